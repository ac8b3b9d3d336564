/* API Management: the key table (fetched and drawn here: "Loading...", then the rows or
   "No data"), the create form, the rows' Delete, and the result dialogs. The table is fetched
   again after a dialog closes; the page is never reloaded. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const HTX = window.HTX;
  const page = document.getElementById("apikey");
  const maxNote = Number(page.dataset.maxNote);
  const form = document.getElementById("create-form");
  const note = document.getElementById("note");
  const ips = document.getElementById("ips");
  const createButton = HTX.submitOf(form);
  const boxes = {
    note: document.getElementById("note-error"),
    ips: document.getElementById("ips-error"),
    form: document.getElementById("form-error"),
  };
  const inputs = { note: note, ips: ips };
  const created = document.getElementById("created-dialog");
  const removal = document.getElementById("delete-dialog");
  const tbody = document.getElementById("key-rows");
  const keyCount = document.getElementById("key-count");
  let deleting = null;
  let listing = 0;  // the newest fetch: an older answer arriving late is dropped

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) { td.className = HTX.cls(className); }
    td.textContent = text;
    return td;
  }

  function placeholder(text, className) {
    const tr = document.createElement("tr");
    const td = cell(text, className);
    td.colSpan = 8;
    tr.appendChild(td);
    return tr;
  }

  /* The obscure markup's Delete is a bare span (no role), as table actions often are. */
  function deleteControl(key) {
    const control = document.createElement(HTX.obscure() ? "span" : "button");
    if (!HTX.obscure()) { control.type = "button"; }
    control.className = HTX.cls("link-button danger");
    control.textContent = "Delete";
    control.addEventListener("click", function () {
      deleting = key.accessKey;
      document.getElementById("delete-note").textContent = key.note;
      HTX.openDialog(removal, removal.querySelector("[data-cancel]" + "." + HTX.cls("btn")));
    });
    return control;
  }

  function row(key) {
    const tr = document.createElement("tr");
    tr.appendChild(cell(key.createText, "nowrap"));
    tr.appendChild(cell(key.note, "note-cell"));
    tr.appendChild(cell(key.permissionText));
    tr.appendChild(cell(key.accessKey, "mono"));
    tr.appendChild(cell(key.ipAddresses.split(",").filter(Boolean).join(", ") || "--", "ips-cell"));
    tr.appendChild(cell(key.validDays < 0 ? "Permanent" : String(key.validDays)));
    const status = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = HTX.cls("status status-" + key.status);
    badge.textContent = key.statusText;
    status.appendChild(badge);
    tr.appendChild(status);
    const action = document.createElement("td");
    action.appendChild(deleteControl(key));
    tr.appendChild(action);
    return tr;
  }

  async function loadKeys() {
    const mine = ++listing;
    tbody.setAttribute("aria-busy", "true");
    tbody.replaceChildren(placeholder(page.dataset.textLoading, "empty loading"));
    const res = await HTX.api("/-/x/web/apikey/list");
    if (mine !== listing) { return; }
    tbody.removeAttribute("aria-busy");
    if (!res.ok) {
      tbody.replaceChildren(placeholder(res.message, "empty"));
      HTX.toast(res.message);
      return;
    }
    keyCount.textContent = res.data.length + "/" + page.dataset.maxKeys;
    tbody.replaceChildren.apply(tbody, res.data.length
      ? res.data.map(row) : [placeholder(page.dataset.textEmpty, "empty")]);
  }

  const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

  function isIpv6(text) {
    if (!text.includes(":") || /[^0-9a-fA-F:.]/.test(text)) { return false; }
    try { new URL("http://[" + text + "]/"); return true; } catch (e) { return false; }
  }

  /* Mirrors the server's rules so most mistakes show at once; the server still decides. */
  function isIpEntry(text) {
    const slash = text.indexOf("/");
    if (slash < 0) { return IPV4.test(text) || isIpv6(text); }
    const prefix = text.slice(slash + 1);
    return IPV4.test(text.slice(0, slash)) && /^\d{1,2}$/.test(prefix) && Number(prefix) <= 32;
  }

  function checkForm() {
    const errors = {};
    const text = note.value.trim();
    if (!text) { errors.note = "Please enter a note"; }
    else if (Array.from(text).length > maxNote) {
      errors.note = "The note cannot exceed " + maxNote + " characters";
    }
    const entries = ips.value.split(",").map(function (e) { return e.trim(); })
      .filter(function (e) { return e !== ""; });
    const bad = entries.find(function (e) { return !isIpEntry(e); });
    if (bad !== undefined) { errors.ips = "Invalid IP address: " + bad; }
    // The count (after 192.168.0.1/24 and 192.168.0.9/24 become one range) is the server's
    // to check: the precheck answers "A maximum of 20 IP addresses can be linked".
    return errors;
  }

  function clearErrors() {
    for (const key of Object.keys(boxes)) { HTX.clearError(boxes[key]); }
    note.removeAttribute("aria-invalid");
    ips.removeAttribute("aria-invalid");
  }

  function showErrors(errors) {
    let first = null;
    for (const [field, message] of Object.entries(errors)) {
      HTX.showError(boxes[field] || boxes.form, message);
      if (inputs[field]) {
        inputs[field].setAttribute("aria-invalid", "true");
        first = first || inputs[field];
      }
    }
    if (first) { first.focus(); }
  }

  function request() {
    const permissions = Array.from(form.querySelectorAll('input[name="permission"]:checked'))
      .map(function (box) { return box.value; });
    return { note: note.value, permissions: permissions, ips: ips.value };
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors();
    const errors = checkForm();
    if (Object.keys(errors).length) { showErrors(errors); return; }
    const body = request();
    HTX.setBusy(createButton, true);
    const res = await HTX.api("/-/x/web/apikey/precheck", body);
    HTX.setBusy(createButton, false);
    if (!res.ok) { showErrors(res.errors); return; }
    window.HTXAuth.open("create", function (emailCode, gaCode, smsCode) {
      return HTX.api("/-/x/web/apikey/create",
                     Object.assign({}, body, codes(emailCode, gaCode, smsCode)));
    }, showCreated);
  });

  /* The codes the Security Authentication dialog collected; smsCode only for SMS accounts. */
  function codes(emailCode, gaCode, smsCode) {
    const result = { emailCode: emailCode, gaCode: gaCode };
    if (smsCode !== null) { result.smsCode = smsCode; }
    return result;
  }

  function showCreated(data) {
    document.getElementById("created-access").value = data.accessKey;
    document.getElementById("created-secret").value = data.secretKey;
    HTX.openDialog(created, document.getElementById("created-access"));
  }

  function closeCreated() {
    // Take the secret out of the page before anything else can read it.
    document.getElementById("created-access").value = "";
    document.getElementById("created-secret").value = "";
    HTX.closeDialog(created);
    loadKeys();
  }
  created.querySelector("[data-confirm]").addEventListener("click", closeCreated);
  HTX.onDialogEscape(created, closeCreated);

  function cancelDelete() {
    deleting = null;
    HTX.closeDialog(removal);
  }
  removal.querySelectorAll("[data-cancel]").forEach(function (b) {
    b.addEventListener("click", cancelDelete);
  });
  HTX.onDialogEscape(removal, cancelDelete);
  removal.querySelector("[data-confirm]").addEventListener("click", function () {
    const accessKey = deleting;
    HTX.closeDialog(removal);
    window.HTXAuth.open("delete", function (emailCode, gaCode, smsCode) {
      return HTX.api("/-/x/web/apikey/delete",
                     Object.assign({ accessKey: accessKey }, codes(emailCode, gaCode, smsCode)));
    }, loadKeys);
  });

  loadKeys();
});
