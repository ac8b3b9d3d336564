/* The two login steps: password, then the Google Authenticator code. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  const HTX = window.HTX;
  const root = document.getElementById("login");
  const backUrl = root.dataset.backUrl;
  const passwordStep = document.getElementById("step-password");
  const gaStep = document.getElementById("step-ga");
  const passwordForm = document.getElementById("password-form");
  const gaForm = document.getElementById("ga-form");
  const account = document.getElementById("login-account");
  const password = document.getElementById("login-password");
  const gaInput = document.getElementById("login-ga");
  const passwordError = document.getElementById("password-error");
  const gaError = document.getElementById("ga-error");
  let ticket = null;

  function showPasswordStep(message) {
    ticket = null;
    gaStep.hidden = true;
    passwordStep.hidden = false;
    password.value = "";
    if (message) { HTX.showError(passwordError, message); }
    password.focus();
  }

  passwordForm.addEventListener("submit", async function (event) {
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
    const button = passwordForm.querySelector('button[type="submit"]');
    HTX.setBusy(button, true);
    const res = await HTX.api("/-/x/web/login/password",
                              { account: account.value.trim(), password: password.value });
    HTX.setBusy(button, false);
    if (!res.ok) {
      HTX.showError(passwordError, res.message);
      password.focus();
      return;
    }
    ticket = res.data.ticket;
    // The password has done its job; do not leave it in the page.
    password.value = "";
    passwordStep.hidden = true;
    gaStep.hidden = false;
    HTX.clearError(gaError);
    gaInput.value = "";
    gaInput.focus();
  });

  gaForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    HTX.clearError(gaError);
    const code = gaInput.value.trim();
    if (!/^\d{6}$/.test(code)) {
      HTX.showError(gaError, "Please enter the 6-digit Google Authenticator code");
      gaInput.focus();
      return;
    }
    const button = gaForm.querySelector('button[type="submit"]');
    HTX.setBusy(button, true);
    const res = await HTX.api("/-/x/web/login/ga",
                              { ticket: ticket, gaCode: code, backUrl: backUrl });
    if (res.ok) {
      window.location.assign(res.data.redirect);
      return;
    }
    HTX.setBusy(button, false);
    if (res.field === "ticket") {
      showPasswordStep(res.message);
      return;
    }
    HTX.showError(gaError, res.message);
    gaInput.select();
    gaInput.focus();
  });

  account.focus();
});
