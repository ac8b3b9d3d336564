/* The login steps: password (with the slider captcha when the server asks for it), the
   Google Authenticator code, and for a browser the account has not seen, an email code. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const HTX = window.HTX;
  const captcha = window.HTXCaptcha;
  const root = document.getElementById("login");
  const backUrl = root.dataset.backUrl;
  const passwordStep = document.getElementById("step-password");
  const gaStep = document.getElementById("step-ga");
  const deviceStep = document.getElementById("step-device");
  const passwordForm = document.getElementById("password-form");
  const gaForm = document.getElementById("ga-form");
  const deviceForm = document.getElementById("device-form");
  const account = document.getElementById("login-account");
  const password = document.getElementById("login-password");
  const gaInput = document.getElementById("login-ga");
  const deviceInput = document.getElementById("device-email");
  const deviceSend = document.getElementById("device-send");
  const deviceNote = document.getElementById("device-email-note");
  const passwordError = document.getElementById("password-error");
  const gaError = document.getElementById("ga-error");
  const deviceError = document.getElementById("device-error");
  const loginButton = HTX.submitOf(passwordForm);
  let ticket = null;
  let resendUntil = 0;
  let ticker = null;

  function showStep(step) {
    for (const s of [passwordStep, gaStep, deviceStep]) { s.hidden = s !== step; }
  }

  function showPasswordStep(message) {
    ticket = null;
    stopTicker();
    captcha.hide();
    showStep(passwordStep);
    password.value = "";
    if (message) { HTX.showError(passwordError, message); }
    password.focus();
  }

  passwordForm.addEventListener("submit", function (event) {
    event.preventDefault();
    HTX.clearError(passwordError);
    if (!account.value.trim()) {
      HTX.showError(passwordError, "Please enter your email or phone number");
      account.focus();
      return;
    }
    if (!password.value) {
      HTX.showError(passwordError, "Please enter your password");
      password.focus();
      return;
    }
    submitPassword(null);
  });

  /* The password call; with `captchaToken` once the slider is solved (the slider calls this
     itself, so the page carries on without another press of "Log In"). */
  async function submitPassword(captchaToken) {
    const body = { account: account.value.trim(), password: password.value };
    if (captchaToken) { body.captchaToken = captchaToken; }
    HTX.setBusy(loginButton, true);
    const res = await HTX.api("/-/x/web/login/password", body);
    HTX.setBusy(loginButton, false);
    if (!res.ok) {
      captcha.hide();
      HTX.showError(passwordError, res.message);
      password.focus();
      return;
    }
    if (res.data.verify === "captcha") {
      captcha.show(res.data.captchaId, submitPassword, function (message) {
        HTX.showError(passwordError, message);
      });
      return;
    }
    captcha.hide();
    ticket = res.data.ticket;
    // The password has done its job; do not leave it in the page.
    password.value = "";
    showStep(gaStep);
    HTX.clearError(gaError);
    gaInput.value = "";
    gaInput.focus();
  }

  gaForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    HTX.clearError(gaError);
    const code = gaInput.value.trim();
    if (!/^\d{6}$/.test(code)) {
      HTX.showError(gaError, "Please enter the 6-digit Google Authenticator code");
      gaInput.focus();
      return;
    }
    const button = HTX.submitOf(gaForm);
    HTX.setBusy(button, true);
    const res = await HTX.api("/-/x/web/login/ga",
                              { ticket: ticket, gaCode: code, backUrl: backUrl });
    if (res.ok && res.data.verify !== "device") {
      window.location.assign(res.data.redirect);  // the button stays busy while it loads
      return;
    }
    HTX.setBusy(button, false);
    if (res.ok) {
      showDeviceStep(res.data);
      return;
    }
    if (res.field === "ticket") {
      showPasswordStep(res.message);
      return;
    }
    HTX.showError(gaError, res.message);
    gaInput.select();
    gaInput.focus();
  });

  function showDeviceStep(data) {
    showStep(deviceStep);
    HTX.clearError(deviceError);
    deviceInput.value = "";
    deviceNote.textContent = "Press Send to get a code at " + data.maskedEmail;
    // A login restarted within the minute still waits for the Send before it.
    resendUntil = data.resendIn > 0 ? Date.now() + data.resendIn * 1000 : 0;
    startTicker();
    deviceInput.focus();
  }

  function startTicker() {
    HTX.renderSendButton(deviceSend, resendUntil);
    if (ticker === null) {
      ticker = window.setInterval(function () {
        HTX.renderSendButton(deviceSend, resendUntil);
      }, 250);
    }
  }

  function stopTicker() {
    if (ticker !== null) { window.clearInterval(ticker); ticker = null; }
  }

  deviceSend.addEventListener("click", async function () {
    HTX.clearError(deviceError);
    HTX.setBusy(deviceSend, true);
    const res = await HTX.api("/-/x/web/login/device/send", { ticket: ticket });
    deviceSend.removeAttribute("aria-busy");
    if (res.ok) {
      resendUntil = Date.now() + res.data.resendIn * 1000;
      deviceNote.textContent = "The code has been sent to " + res.data.maskedEmail;
    } else if (res.field === "ticket") {
      showPasswordStep(res.message);
      return;
    } else {
      HTX.showError(deviceError, res.message);
    }
    HTX.renderSendButton(deviceSend, resendUntil);
    deviceInput.focus();
  });

  deviceForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    HTX.clearError(deviceError);
    const code = deviceInput.value.trim();
    if (!code) {
      HTX.showError(deviceError, "Please enter the email verification code");
      deviceInput.focus();
      return;
    }
    const button = HTX.submitOf(deviceForm);
    HTX.setBusy(button, true);
    const res = await HTX.api("/-/x/web/login/device",
                              { ticket: ticket, emailCode: code, backUrl: backUrl });
    if (res.ok) {
      stopTicker();
      window.location.assign(res.data.redirect);
      return;
    }
    HTX.setBusy(button, false);
    if (res.field === "ticket") {
      showPasswordStep(res.message);
      return;
    }
    HTX.showError(deviceError, res.message);
    deviceInput.select();
    deviceInput.focus();
  });

  account.focus();
});
