/* The "Security Authentication" dialog: email code (Send / Resend countdown) plus GA code.
   Create and Delete both use it; each passes the call to make once both codes are entered. */
"use strict";

window.HTXAuth = (function () {
  const HTX = window.HTX;
  let dialog, form, emailInput, gaInput, sendButton, emailNote, errorBox, confirmButton;
  let purpose = null;
  let submitCall = null;
  let onDone = null;
  let ticker = null;
  const cooldownUntil = {};  // per purpose: when the server will accept the next Send

  function init() {
    dialog = document.getElementById("auth-dialog");
    form = document.getElementById("auth-form");
    emailInput = document.getElementById("auth-email");
    gaInput = document.getElementById("auth-ga");
    sendButton = document.getElementById("auth-send");
    emailNote = document.getElementById("auth-email-note");
    errorBox = document.getElementById("auth-error");
    confirmButton = form.querySelector('button[type="submit"]');
    const page = document.getElementById("apikey");
    // A page reload must not forget a running countdown: the server tells us what is left.
    for (const p of ["create", "delete"]) {
      const left = Number(page.dataset["resend" + p[0].toUpperCase() + p.slice(1)] || 0);
      if (left > 0) { cooldownUntil[p] = Date.now() + left * 1000; }
    }
    sendButton.addEventListener("click", send);
    form.addEventListener("submit", confirm);
    dialog.querySelectorAll("[data-cancel]").forEach(function (b) {
      b.addEventListener("click", cancel);
    });
    HTX.onDialogEscape(dialog, cancel);
  }

  function open(newPurpose, call, done) {
    purpose = newPurpose;
    submitCall = call;
    onDone = done;
    emailInput.value = "";
    gaInput.value = "";
    HTX.clearError(errorBox);
    emailNote.textContent = "Press Send to get a code at " + document.getElementById("apikey")
      .dataset.maskedMailbox;
    HTX.setBusy(confirmButton, false);
    renderSendButton();
    if (ticker === null) { ticker = window.setInterval(renderSendButton, 250); }
    HTX.openDialog(dialog, emailInput);
  }

  function close() {
    HTX.closeDialog(dialog);
    if (ticker !== null) { window.clearInterval(ticker); ticker = null; }
    emailInput.value = "";
    gaInput.value = "";
  }

  function cancel() {
    close();
  }

  function renderSendButton() {
    if (sendButton.getAttribute("aria-busy") === "true") { return; }
    const left = (cooldownUntil[purpose] || 0) - Date.now();
    if (left > 0) {
      // Show "Resend (59s)" first: the second already under way is not offered.
      const seconds = Math.min(59, Math.ceil(left / 1000));
      sendButton.textContent = "Resend (" + seconds + "s)";
      sendButton.disabled = true;
    } else {
      sendButton.textContent = cooldownUntil[purpose] ? "Resend" : "Send";
      sendButton.disabled = false;
    }
  }

  async function send() {
    HTX.clearError(errorBox);
    HTX.setBusy(sendButton, true);
    const res = await HTX.api("/-/x/web/verify/email/send", { purpose: purpose });
    sendButton.removeAttribute("aria-busy");
    if (res.ok) {
      cooldownUntil[purpose] = Date.now() + res.data.resendIn * 1000;
      emailNote.textContent = "The code has been sent to " + res.data.maskedEmail;
    } else {
      HTX.showError(errorBox, res.message);
    }
    renderSendButton();
    emailInput.focus();
  }

  async function confirm(event) {
    event.preventDefault();
    HTX.clearError(errorBox);
    const emailCode = emailInput.value.trim();
    const gaCode = gaInput.value.trim();
    if (!emailCode) {
      HTX.showError(errorBox, "Please enter the email verification code");
      emailInput.focus();
      return;
    }
    if (!/^\d{6}$/.test(gaCode)) {
      HTX.showError(errorBox, "Please enter the 6-digit Google Authenticator code");
      gaInput.focus();
      return;
    }
    HTX.setBusy(confirmButton, true);
    const res = await submitCall(emailCode, gaCode);
    HTX.setBusy(confirmButton, false);
    if (res.ok) {
      const done = onDone;
      close();
      done(res.data);
      return;
    }
    HTX.showError(errorBox, res.message);
    const target = res.field === "gaCode" ? gaInput : emailInput;
    target.select();
    target.focus();
  }

  document.addEventListener("DOMContentLoaded", init);
  return { open };
})();
