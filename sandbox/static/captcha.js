/* The slider captcha of the login page ("Slider verification"), in the manner of the
   "NoCaptcha" slider the older HTX UI used: drag the handle to the right end with the mouse.
   The page only measures the drag (how far, how long, how many moves) and reports it; the
   server decides and answers with a one-time token for the password step.
   Keys do nothing here on purpose: a bot check a script could pass by pressing End would
   check nothing. Only trusted (real input) events count, for the same reason. */
"use strict";

window.HTXCaptcha = (function () {
  const HTX = window.HTX;
  const FAILED = "Verification failed, please try again";
  let group, track, handle, fill, label, errorBox;
  let captchaId = null;
  let onSolved = null;
  let onExpired = null;
  let phase = "idle";  // idle | dragging | checking | verified
  let drag = null;     // the drag under way: {source, startX, startedAt, moves}
  let offset = 0;      // the handle's distance from the left end, in px

  function init() {
    group = document.getElementById("captcha");
    if (!group) { return; }
    track = document.getElementById("captcha-track");
    handle = document.getElementById("captcha-handle");
    fill = document.getElementById("captcha-fill");
    label = document.getElementById("captcha-text");
    errorBox = document.getElementById("captcha-error");
    // Pointer events come first in browsers that have them; the mouse events are there for
    // the rest. Whichever starts a drag owns it, so a move is never counted twice.
    handle.addEventListener("pointerdown", function (e) { start(e, "pointer"); });
    handle.addEventListener("mousedown", function (e) { start(e, "mouse"); });
    document.addEventListener("pointermove", function (e) { move(e, "pointer"); });
    document.addEventListener("mousemove", function (e) { move(e, "mouse"); });
    document.addEventListener("pointerup", function (e) { end(e, "pointer"); });
    document.addEventListener("pointercancel", function (e) { end(e, "pointer"); });
    document.addEventListener("mouseup", function (e) { end(e, "mouse"); });
    handle.addEventListener("dragstart", function (e) { e.preventDefault(); });
    handle.addEventListener("transitionend", settled);
  }

  function maxOffset() {
    return Math.max(0, track.clientWidth - handle.offsetWidth);
  }

  function value() {
    const max = maxOffset();
    return max > 0 ? Math.round(offset / max * 100) : 0;
  }

  function place(px) {
    offset = px;
    handle.style.left = px + "px";
    fill.style.width = (px > 0 ? px + handle.offsetWidth / 2 : 0) + "px";
    handle.setAttribute("aria-valuenow", String(value()));
  }

  function reset() {
    phase = "idle";
    drag = null;
    group.classList.remove(HTX.cls("verified"), HTX.cls("dragging"), HTX.cls("returning"));
    handle.removeAttribute("aria-disabled");
    label.textContent = "Please slide to verify";
    place(0);
  }

  /* Show a fresh slider for challenge `id`; `solved(token)` runs once it is solved,
     `expired(message)` when the challenge is gone and the login must start over. */
  function show(id, solved, expired) {
    captchaId = id;
    onSolved = solved;
    onExpired = expired;
    HTX.clearError(errorBox);
    group.hidden = false;
    reset();
  }

  function hide() {
    if (!group) { return; }
    captchaId = null;
    HTX.clearError(errorBox);
    group.hidden = true;
    reset();
  }

  function start(event, source) {
    if (!event.isTrusted || phase !== "idle" || drag !== null || event.button !== 0) { return; }
    // No text selection and no native image drag while the handle is held.
    event.preventDefault();
    HTX.clearError(errorBox);
    if (group.classList.contains(HTX.cls("returning"))) {
      // Caught while sliding back: hold it where it is seen, not where it is heading.
      const seen = handle.getBoundingClientRect().left - track.getBoundingClientRect().left -
        track.clientLeft;
      group.classList.remove(HTX.cls("returning"));
      place(Math.min(maxOffset(), Math.max(0, seen)));
    }
    group.classList.add(HTX.cls("dragging"));
    phase = "dragging";
    drag = { source: source, startX: event.clientX - offset, startedAt: performance.now(),
             moves: 0 };
  }

  function move(event, source) {
    if (drag === null || drag.source !== source || !event.isTrusted) { return; }
    drag.moves += 1;
    place(Math.min(maxOffset(), Math.max(0, event.clientX - drag.startX)));
  }

  async function end(event, source) {
    if (drag === null || drag.source !== source) { return; }
    const done = drag;
    drag = null;
    group.classList.remove(HTX.cls("dragging"));
    const durationMs = Math.round(performance.now() - done.startedAt);
    if (done.moves === 0 && offset === 0) { phase = "idle"; return; }  // a click, not a drag
    if (value() < 100) { fail(FAILED); return; }  // let go before the end
    phase = "checking";
    const res = await HTX.api("/-/x/web/login/captcha", {
      captchaId: captchaId, value: value(), durationMs: durationMs, moves: done.moves,
    });
    if (res.ok) {
      phase = "verified";
      group.classList.add(HTX.cls("verified"));
      label.textContent = "Verified";
      handle.setAttribute("aria-disabled", "true");
      onSolved(res.data.captchaToken);
      return;
    }
    if (res.field === "ticket") {
      hide();
      onExpired(res.message);
      return;
    }
    fail(res.message);
  }

  function fail(message) {
    HTX.showError(errorBox, message);
    // Slide back to the start, visibly, and take the next drag.
    group.classList.add(HTX.cls("returning"));
    place(0);
    phase = "idle";
  }

  function settled() {
    group.classList.remove(HTX.cls("returning"));
  }

  document.addEventListener("DOMContentLoaded", init);
  return { show, hide };
})();
