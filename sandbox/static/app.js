/* Shared page helpers: JSON calls, error boxes and toasts, dialogs, the Account menu, the
   first-visit overlays, and the obscure markup's class names and div buttons. */
"use strict";

window.HTX = (function () {
  const TOAST_MS = 3000;
  const YEAR_S = 365 * 24 * 3600;

  function obscure() { return document.body.dataset.markup === "obscure"; }

  /* A class name as the page uses it: hashed in the obscure markup (sandbox/markup.py
     class_hash: FNV-1a of "htx:" + name, base 36). */
  function cls(names) {
    if (!obscure()) { return names; }
    return names.split(/\s+/).filter(Boolean).map(function (name) {
      let h = 0x811c9dc5;
      const s = "htx:" + name;
      for (let i = 0; i < s.length; i++) {
        h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
      }
      return "c" + h.toString(36);
    }).join(" ");
  }

  /* The submit control of a form: a <button type=submit>, or the obscure markup's div. */
  function submitOf(form) {
    return form.querySelector('button[type="submit"], [data-submit]');
  }

  function toast(message) {
    const box = document.getElementById("toasts");
    if (!box || !message) { return; }
    const item = document.createElement("div");
    item.className = cls("toast");
    item.setAttribute("role", "status");
    item.textContent = message;
    box.appendChild(item);
    window.setTimeout(function () { item.remove(); }, TOAST_MS);
  }

  function remember(name, value) {
    document.cookie = name + "=" + value + "; path=/; max-age=" + YEAR_S + "; samesite=lax";
  }

  /* The theme switch: the other theme than the one shown (the cookie's, else the system's),
     remembered for a year. */
  function setupThemeSwitch() {
    const button = document.querySelector("[data-theme-switch]");
    if (!button) { return; }
    button.addEventListener("click", function () {
      const root = document.documentElement;
      const shown = root.dataset.theme ||
        (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      const next = shown === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      remember("htx_theme", next);
      button.setAttribute("aria-label", "Switch to the " + shown + " theme");
    });
  }

  function setupOverlays() {
    const banner = document.getElementById("cookie-banner");
    if (banner) {
      banner.querySelectorAll("[data-consent]").forEach(function (button) {
        button.addEventListener("click", function () {
          remember("htx_consent", button.dataset.consent);
          banner.remove();
        });
      });
    }
    const notice = document.getElementById("notice");
    if (notice) {
      // The announcement arrives after the page, as a fetched one would.
      window.setTimeout(function () { notice.hidden = false; },
                        Number(notice.dataset.delayMs || 0));
      notice.querySelector("[data-notice-ok]").addEventListener("click", function () {
        remember("htx_notice", "1");
        notice.remove();
      });
    }
  }

  /* The obscure markup's submit "buttons" are divs: click and Enter submit their form. */
  function setupDivButtons() {
    document.querySelectorAll("[data-submit]").forEach(function (div) {
      const form = div.closest("form");
      div.addEventListener("click", function () {
        if (div.getAttribute("aria-disabled") !== "true" && form) { form.requestSubmit(); }
      });
      div.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); div.click(); }
      });
    });
  }
  /* POST (or GET without a body) to a /-/x/web/ call; never throws, always answers
     {ok, data, message, field, errors} so every caller handles failure the same way. */
  async function api(path, body) {
    const init = { method: body === undefined ? "GET" : "POST", credentials: "same-origin",
                   headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return { ok: false, message: "Network error, please try again later", field: "form",
               errors: {} };
    }
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (res.ok && json && json.success) {
      return { ok: true, data: json.data };
    }
    if (res.status === 401 && !path.startsWith("/-/x/web/login/")) {
      // The session has expired or was ended: log in again and come back here.
      window.location.assign("/en-us/login/?backUrl=" + encodeURI(window.location.pathname));
    }
    const message = (json && json.message) || "System busy, please try again later";
    return { ok: false, message: message, field: (json && json.field) || "form",
             errors: (json && json.errors) || { form: message }, status: res.status };
  }

  function showError(box, message) {
    box.textContent = message;
    box.hidden = false;
    toast(message);
  }

  function clearError(box) {
    box.textContent = "";
    box.hidden = true;
  }

  /* A button shows it is working and cannot be pressed twice while a call is under way. */
  function setBusy(button, busy) {
    button.disabled = busy;
    if (busy) {
      button.setAttribute("aria-busy", "true");
      if (button.tagName !== "BUTTON") { button.setAttribute("aria-disabled", "true"); }
    } else {
      button.removeAttribute("aria-busy");
      button.removeAttribute("aria-disabled");
    }
  }

  /* A code channel's Send button: "Send", then "Resend (59s)" ... "Resend" while the server
     would refuse another Send (`until`, ms since the epoch; 0 = never sent). Only the text
     changes: a button with an aria-label ("Send SMS code") keeps its name throughout. */
  function renderSendButton(button, until) {
    if (button.getAttribute("aria-busy") === "true") { return; }
    const left = (until || 0) - Date.now();
    if (left > 0) {
      // Show "Resend (59s)" first: the second already under way is not offered.
      button.textContent = "Resend (" + Math.min(59, Math.ceil(left / 1000)) + "s)";
      button.disabled = true;
    } else {
      button.textContent = until ? "Resend" : "Send";
      button.disabled = false;
    }
  }

  function openDialog(dialog, focusTarget) {
    if (!dialog.open) { dialog.showModal(); }
    if (focusTarget) { focusTarget.focus(); }
  }

  function closeDialog(dialog) {
    if (dialog.open) { dialog.close(); }
  }

  /* Escape must run the dialog's own Cancel logic, not just hide it. */
  function onDialogEscape(dialog, handler) {
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      handler();
    });
  }

  function setupAccountMenu() {
    const button = document.getElementById("account-button");
    const menu = document.getElementById("account-menu");
    if (!button || !menu) { return; }
    const items = Array.from(menu.querySelectorAll('[role="menuitem"]'));

    function open(focusIndex) {
      menu.hidden = false;
      button.setAttribute("aria-expanded", "true");
      if (focusIndex !== null) { items[focusIndex].focus(); }
    }
    function close(returnFocus) {
      menu.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (returnFocus) { button.focus(); }
    }
    button.addEventListener("click", function () {
      if (menu.hidden) { open(null); } else { close(false); }
    });
    button.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open(0);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        open(items.length - 1);
      }
    });
    menu.addEventListener("keydown", function (event) {
      const index = items.indexOf(document.activeElement);
      if (event.key === "Escape") {
        close(true);
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        items[(index + 1) % items.length].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        items[(index - 1 + items.length) % items.length].focus();
      } else if (event.key === "Tab") {
        close(false);
      }
    });
    document.addEventListener("click", function (event) {
      if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) {
        close(false);
      }
    });
    const logout = menu.querySelector("[data-logout]");
    if (logout) {
      logout.addEventListener("click", async function () {
        const res = await api("/-/x/web/logout", {});
        window.location.assign(res.ok ? res.data.redirect : "/en-us/");
      });
    }
  }

  document.addEventListener("DOMContentLoaded", setupAccountMenu);
  document.addEventListener("DOMContentLoaded", setupOverlays);
  document.addEventListener("DOMContentLoaded", setupThemeSwitch);
  document.addEventListener("DOMContentLoaded", setupDivButtons);

  return { api, showError, clearError, setBusy, renderSendButton, openDialog, closeDialog,
           onDialogEscape, cls, toast, submitOf, obscure };
})();
