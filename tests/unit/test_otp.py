"""TOTP: one code per time step, across instances and processes, with time left to use it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing
import stat
import struct
import time
from pathlib import Path

import pytest

from automation.errors import ConfigError, OtpError
from automation.otp import Totp, validate_secret

SEED = "JBSWY3DPEHPK3PXP"
PERIOD = 30
BAD_SEED_MESSAGE = "HTX_TOTP_SECRET is not a valid base32 Google Authenticator seed"


class FakeTime:
    """A wall clock that only moves when the code under test sleeps (or the test says so)."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def expected(step: int, seed: str = SEED, period: int = PERIOD) -> str:
    """The RFC 6238 code for a step, computed independently of the code under test."""
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_reference_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) -> last six digits.
    rfc_seed = base64.b32encode(b"12345678901234567890").decode()
    assert expected(59 // 30, rfc_seed) == "287082"
    fake = FakeTime(59)
    assert Totp(rfc_seed, clock=fake.clock, sleep=fake.sleep, min_remaining=0).next_code() == (
        "287082"
    )


def make(fake: FakeTime, **kwargs: object) -> Totp:
    return Totp(SEED, clock=fake.clock, sleep=fake.sleep, **kwargs)  # type: ignore[arg-type]


def test_first_code_is_immediate_and_correct() -> None:
    fake = FakeTime(1000 * PERIOD + 5)
    totp = make(fake)
    assert totp.ready_at() == fake.now
    assert totp.next_code() == expected(1000)
    assert fake.sleeps == []


def test_never_the_same_step_twice() -> None:
    fake = FakeTime(2000 * PERIOD + 1)
    totp = make(fake)
    steps = []
    for _ in range(6):
        code = totp.next_code()
        step = int(fake.now // PERIOD)
        assert code == expected(step)
        steps.append(step)
    assert steps == list(range(2000, 2006))


def test_second_code_waits_for_the_next_step() -> None:
    fake = FakeTime(3000 * PERIOD + 5)
    waits: list[float] = []
    totp = make(fake, on_wait=waits.append)
    totp.next_code()
    assert totp.ready_at() == 3001 * PERIOD
    assert totp.next_code() == expected(3001)
    assert fake.now == 3001 * PERIOD
    assert waits == [25.0]


def test_waits_when_too_little_time_is_left() -> None:
    fake = FakeTime(4000 * PERIOD + 28)  # 2 s left, less than min_remaining = 3
    waits: list[float] = []
    totp = make(fake, on_wait=waits.append)
    assert totp.ready_at() == 4001 * PERIOD
    assert totp.next_code() == expected(4001)
    assert waits == [2.0]


@pytest.mark.parametrize(("period", "left", "waits"), [(5, 0.6, False), (5, 0.4, True)])
def test_a_short_period_needs_a_tenth_of_it_left(period: int, left: float, waits: bool) -> None:
    """A sandbox's short period (tests): 3 s of 5 would mean waiting most steps."""
    fake = FakeTime(9000 * period + period - left)
    totp = make(fake, period=period)
    step = 9000 + waits
    assert totp.next_code() == expected(step, period=period)
    assert fake.now == (step * period if waits else 9000 * period + period - left)


def test_enough_time_left_means_no_wait() -> None:
    fake = FakeTime(4500 * PERIOD + 26)  # 4 s left
    totp = make(fake, min_remaining=3.0)
    assert totp.next_code() == expected(4500)
    assert fake.sleeps == []


def test_short_waits_are_not_announced() -> None:
    fake = FakeTime(4600 * PERIOD + 26.8)  # 3.2 s left: enough
    waits: list[float] = []
    totp = make(fake, min_remaining=3.0, on_wait=waits.append)
    totp.next_code()
    fake.now = 4601 * PERIOD - 0.3  # in the used step, 0.3 s before the next one
    totp.next_code()
    assert waits == []
    assert fake.sleeps == [pytest.approx(0.3)]


def test_state_file_is_shared_between_instances(tmp_path: Path) -> None:
    fake = FakeTime(5000 * PERIOD + 2)
    first = make(fake, state_dir=tmp_path)
    # The same seed written differently must map to the same record.
    second = Totp("jbsw y3dp ehpk 3pxp", clock=fake.clock, sleep=fake.sleep, state_dir=tmp_path)
    assert first.next_code() == expected(5000)
    assert second.ready_at() == 5001 * PERIOD
    assert second.next_code() == expected(5001)
    assert fake.sleeps == [28.0]
    # ...and the first instance now sees the step the second one took.
    assert first.ready_at() == 5002 * PERIOD


def test_a_short_period_steps_faster_with_a_ledger_of_its_own(tmp_path: Path) -> None:
    fake = FakeTime(7000 * PERIOD + 1)
    waits: list[float] = []
    live = make(fake, state_dir=tmp_path)
    short = make(fake, state_dir=tmp_path, on_wait=waits.append, period=5)
    assert short.period == 5
    assert short.next_code() == expected(7000 * 6, period=5)
    assert short.next_code() == expected(7000 * 6 + 1, period=5)
    assert waits == [4.0]  # to the next 5 s step
    assert short.state_file is not None and short.state_file.parent == tmp_path
    assert short.state_file.name.endswith("-5s.json")
    assert live.state_file is not None and live.state_file != short.state_file


def test_another_period_keeps_its_own_ledger(tmp_path: Path) -> None:
    """Steps of 5 s count six times faster: in the 30 s ledger they would read as steps from
    the future ("did the clock go back?") and stop every run with the live site."""
    fake = FakeTime(8000 * PERIOD + 1)
    make(fake, state_dir=tmp_path, period=5).next_code()
    live = make(fake, state_dir=tmp_path)
    assert live.next_code() == expected(8000)
    assert live.state_file is not None
    short_ledger = live.state_file.name.replace(".json", "-5s.json")
    assert {p.name for p in tmp_path.glob("*.json")} == {live.state_file.name, short_ledger}


def test_state_file_is_private_and_holds_no_seed(tmp_path: Path) -> None:
    fake = FakeTime(6000 * PERIOD + 1)
    totp = make(fake, state_dir=tmp_path)
    totp.next_code()
    state = totp.state_file
    assert state is not None and state.parent == tmp_path
    assert state.name.startswith("totp-") and len(state.stem) == len("totp-") + 16
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    text = state.read_text()
    assert json.loads(text) == {"last_step": 6000}
    for path in tmp_path.iterdir():
        assert SEED not in path.name
        assert SEED.lower() not in path.read_text().lower()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_mark_rejected_skips_the_current_step(tmp_path: Path) -> None:
    fake = FakeTime(7000 * PERIOD + 10)
    totp = make(fake, state_dir=tmp_path)
    totp.next_code()  # step 7000, refused by the site below once we are in step 7001
    fake.now = 7001 * PERIOD + 4
    totp.mark_rejected()
    assert totp.ready_at() == 7002 * PERIOD
    assert totp.next_code() == expected(7002)
    # The refusal is recorded for other processes too.
    other = make(fake, state_dir=tmp_path)
    assert other.ready_at() == 7003 * PERIOD


def test_mark_rejected_in_the_same_step_still_moves_on() -> None:
    fake = FakeTime(7100 * PERIOD + 10)
    totp = make(fake)
    totp.next_code()
    totp.mark_rejected()
    assert totp.next_code() == expected(7101)


def test_a_record_from_the_future_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fake = FakeTime(8000 * PERIOD + 1)
    totp = make(fake, state_dir=tmp_path)
    totp.next_code()
    fake.now -= 3600  # the clock went back an hour
    with pytest.raises(OtpError):
        totp.next_code()
    assert fake.sleeps == []


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
        ("jbsw y3dp ehpk 3pxp", "JBSWY3DPEHPK3PXP"),
        ("JBSW-Y3DP-EHPK-3PXP\n", "JBSWY3DPEHPK3PXP"),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY", "GEZDGNBVGY3TQOJQGEZDGNBVGY======"),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY======", "GEZDGNBVGY3TQOJQGEZDGNBVGY======"),
    ],
)
def test_validate_secret_normalises(given: str, normalised: str) -> None:
    assert validate_secret(given) == normalised


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "JBSWY3DP",  # too short
        "JBSWY3DPEHPK3PX1",  # 1 is not base32
        "JBSWY3DPEHPK3PX!",
        "JBSWY3DPEHPK3PXPA",  # 17 characters: no base32 encoder produces that length
        "123456",
    ],
)
def test_validate_secret_rejects_without_echoing(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_secret(bad)
    assert str(info.value) == BAD_SEED_MESSAGE
    if bad:
        assert bad not in str(info.value) and bad not in (info.value.hint or "")


def test_totp_rejects_a_bad_seed() -> None:
    with pytest.raises(ConfigError):
        Totp("not a seed")


def _take_code(state_dir: str, out: multiprocessing.Queue) -> None:
    reads: list[float] = []

    def clock() -> float:
        reads.append(time.time())
        return reads[-1]

    totp = Totp(SEED, period=1, min_remaining=0.1, state_dir=Path(state_dir), clock=clock)
    code = totp.next_code()
    # The last clock reading inside next_code() is the one that chose the step.
    out.put((int(reads[-1] // 1), code))


def test_processes_started_together_use_different_steps(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_take_code, args=(str(tmp_path), out)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [out.get(timeout=30) for _ in workers]
    for w in workers:
        w.join(timeout=10)
        assert w.exitcode == 0
    steps = [step for step, _ in results]
    assert len(set(steps)) == len(steps), steps
    for step, code in results:
        assert code == expected(step)
