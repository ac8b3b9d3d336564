/* The "Security Authentication" dialog: email code (Send / Resend countdown), for older
   accounts an SMS code too (its own Send and countdown), plus the GA code. Create and Delete
   both use it; each passes the call to make once every code is entered. */
"use strict";

window.HTXAuth = (function () {
  const HTX = window.HTX;
  let dialog, form, emailInput, gaInput, sendButton, emailNote, errorBox, confirmButton;
  let smsInput, smsButton, smsNote;  // null for accounts without SMS
  let page;
  let purpose = null;
  let submitCall = null;
  let onDone = null;
  let ticker = null;
  // Per channel and purpose: when the server will accept the next Send.
  const cooldownUntil = { email: {}, sms: {} };

  function init() {
    dialog = document.getElementById("auth-dialog");
    form = document.getElementById("auth-form");
    emailInput = document.getElementById("auth-email");
    gaInput = document.getElementById("auth-ga");
    sendButton = document.getElementById("auth-send");
    emailNote = document.getElementById("auth-email-note");
    errorBox = document.getElementById("auth-error");
    smsInput = document.getElementById("auth-sms");
    smsButton = document.getElementById("auth-sms-send");
    smsNote = document.getElementById("auth-sms-note");
    confirmButton = HTX.submitOf(form);
    page = document.getElementById("apikey");
    // A page reload must not forget a running countdown: the server tells us what is left.
    for (const p of ["create", "delete"]) {
      const suffix = p[0].toUpperCase() + p.slice(1);
      const left = Number(page.dataset["resend" + suffix] || 0);
      if (left > 0) { cooldownUntil.email[p] = Date.now() + left * 1000; }
      const smsLeft = Number(page.dataset["smsResend" + suffix] || 0);
      if (smsLeft > 0) { cooldownUntil.sms[p] = Date.now() + smsLeft * 1000; }
    }
    sendButton.addEventListener("click", send);
    if (smsButton) { smsButton.addEventListener("click", sendSms); }
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
    clearInputs();
    HTX.clearError(errorBox);
    emailNote.textContent = "Press Send to get a code at " + page.dataset.maskedMailbox;
    if (smsNote) { smsNote.textContent = "Press Send to get a code at " + page.dataset.maskedPhone; }
    HTX.setBusy(confirmButton, false);
    renderSendButtons();
    if (ticker === null) { ticker = window.setInterval(renderSendButtons, 250); }
    HTX.openDialog(dialog, emailInput);
  }

  function clearInputs() {
    emailInput.value = "";
    gaInput.value = "";
    if (smsInput) { smsInput.value = ""; }
  }

  function close() {
    HTX.closeDialog(dialog);
    if (ticker !== null) { window.clearInterval(ticker); ticker = null; }
    clearInputs();
  }

  function cancel() {
    close();
  }

  function renderSendButtons() {
    HTX.renderSendButton(sendButton, cooldownUntil.email[purpose]);
    if (smsButton) { HTX.renderSendButton(smsButton, cooldownUntil.sms[purpose]); }
  }

  async function send() {
    await sendCode("email", sendButton, "/-/x/web/verify/email/send", emailInput,
                   function (data) { emailNote.textContent = "The code has been sent to " +
                                       data.maskedEmail; });
  }

  async function sendSms() {
    await sendCode("sms", smsButton, "/-/x/web/verify/sms/send", smsInput,
                   function (data) { smsNote.textContent = "The SMS code has been sent to " +
                                       data.maskedPhone; });
  }

  async function sendCode(channel, button, path, input, sent) {
    HTX.clearError(errorBox);
    HTX.setBusy(button, true);
    const res = await HTX.api(path, { purpose: purpose });
    button.removeAttribute("aria-busy");
    if (res.ok) {
      cooldownUntil[channel][purpose] = Date.now() + res.data.resendIn * 1000;
      sent(res.data);
    } else {
      HTX.showError(errorBox, res.message);
    }
    renderSendButtons();
    input.focus();
  }

  async function confirm(event) {
    event.preventDefault();
    HTX.clearError(errorBox);
    const emailCode = emailInput.value.trim();
    const smsCode = smsInput ? smsInput.value.trim() : null;
    const gaCode = gaInput.value.trim();
    if (!emailCode) {
      HTX.showError(errorBox, "Please enter the email verification code");
      emailInput.focus();
      return;
    }
    if (smsInput && !smsCode) {
      HTX.showError(errorBox, "Please enter the SMS verification code");
      smsInput.focus();
      return;
    }
    if (!/^\d{6}$/.test(gaCode)) {
      HTX.showError(errorBox, "Please enter the 6-digit Google Authenticator code");
      gaInput.focus();
      return;
    }
    HTX.setBusy(confirmButton, true);
    const res = await submitCall(emailCode, gaCode, smsCode);
    HTX.setBusy(confirmButton, false);
    if (res.ok) {
      const done = onDone;
      close();
      done(res.data);
      return;
    }
    HTX.showError(errorBox, res.message);
    const target = res.field === "gaCode" ? gaInput
      : (res.field === "smsCode" && smsInput) ? smsInput : emailInput;
    target.select();
    target.focus();
  }

  document.addEventListener("DOMContentLoaded", init);
  return { open };
})();
