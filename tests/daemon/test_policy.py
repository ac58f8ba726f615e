"""The restart policy, as arithmetic: backoff with jitter, restart intensity, parking."""

from __future__ import annotations

import pytest

from runtime.daemon.policy import DEVICE_POLL_S, Action, Ending, RestartPolicy, backoff_delay_s
from runtime.spec import Supervision


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)])
def test_backoff_doubles_from_the_low_bound_up_to_the_high_bound(failures: int, expected: float) -> None:
    assert backoff_delay_s(failures, (1.0, 60.0), jitter=0.999999) == pytest.approx(expected, rel=1e-5)


def test_jitter_spreads_the_wait_over_the_upper_half_but_never_below_the_low_bound() -> None:
    assert backoff_delay_s(4, (1.0, 60.0), jitter=0.0) == 4.0
    assert backoff_delay_s(1, (1.0, 60.0), jitter=0.0) == 1.0
    delays = {backoff_delay_s(5, (1.0, 60.0), jitter=j / 10) for j in range(10)}
    assert len(delays) == 10 and min(delays) >= 8.0 and max(delays) < 16.0


def test_bounds_given_in_either_order_mean_the_same() -> None:
    assert backoff_delay_s(3, (60.0, 1.0), 0.5) == backoff_delay_s(3, (1.0, 60.0), 0.5)


def test_parks_after_max_restarts_within_the_window() -> None:
    policy = RestartPolicy(Supervision(max_restarts=3, window_s=10.0, backoff_s=(1.0, 8.0)))
    actions = [policy.decide(Ending.ERROR, ran_s=0.1, now=float(t), jitter=0.0).action for t in range(5)]
    assert actions == [Action.RESTART] * 3 + [Action.PARK, Action.PARK]


def test_restarts_older_than_the_window_no_longer_count() -> None:
    policy = RestartPolicy(Supervision(max_restarts=2, window_s=10.0))
    for now in (0.0, 1.0):
        assert policy.decide(Ending.ERROR, ran_s=0.1, now=now, jitter=0.0).action is Action.RESTART
    assert policy.decide(Ending.ERROR, ran_s=0.1, now=5.0, jitter=0.0).action is Action.PARK
    assert policy.decide(Ending.ERROR, ran_s=0.1, now=11.5, jitter=0.0).action is Action.RESTART


def test_max_restarts_zero_parks_on_the_first_failure() -> None:
    policy = RestartPolicy(Supervision(max_restarts=0))
    decision = policy.decide(Ending.HUNG, ran_s=1.0, now=0.0, jitter=0.0)
    assert decision.action is Action.PARK and "max_restarts 0" in decision.reason


def test_a_long_healthy_run_resets_the_backoff() -> None:
    policy = RestartPolicy(Supervision(backoff_s=(1.0, 60.0), max_restarts=100))
    delays = [policy.decide(Ending.ERROR, ran_s=0.1, now=float(t), jitter=0.999).delay_s for t in range(4)]
    assert [round(d) for d in delays] == [1, 2, 4, 8]
    assert policy.decide(Ending.ERROR, ran_s=3600.0, now=10.0, jitter=0.999).delay_s == 1.0


def test_fatal_errors_are_retried_at_the_slowest_pace() -> None:
    decision = RestartPolicy(Supervision(backoff_s=(1.0, 60.0))).decide(Ending.FATAL, ran_s=0, now=0, jitter=0)
    assert decision.action is Action.RESTART and decision.delay_s == 60.0


def test_a_missing_device_is_waited_for_and_never_counts_as_a_restart() -> None:
    policy = RestartPolicy(Supervision(max_restarts=1))
    delays = []
    for now in range(50):
        decision = policy.decide(Ending.DEVICE, ran_s=0.0, now=float(now), jitter=0.0)
        assert decision.action is Action.WAIT_DEVICE
        delays.append(decision.delay_s)
    assert delays[0] == pytest.approx(DEVICE_POLL_S[0], rel=1e-3)
    assert delays[-1] == pytest.approx(DEVICE_POLL_S[1], rel=1e-3)
    assert delays == sorted(delays), "looking for a missing device gets less frequent, never more"
    assert policy.decide(Ending.ERROR, ran_s=0.0, now=60.0, jitter=0.0).action is Action.RESTART


@pytest.mark.parametrize(
    ("restart", "ending", "action"),
    [
        ("always", Ending.CLEAN, Action.RESTART),
        ("always", Ending.ERROR, Action.RESTART),
        ("on_failure", Ending.CLEAN, Action.STOP),
        ("on_failure", Ending.ERROR, Action.RESTART),
        ("on_failure", Ending.HUNG, Action.RESTART),
        ("never", Ending.CLEAN, Action.STOP),
        ("never", Ending.ERROR, Action.PARK),
        ("never", Ending.FATAL, Action.PARK),
    ],
)
def test_restart_modes(restart: str, ending: Ending, action: Action) -> None:
    policy = RestartPolicy(Supervision.model_validate({"restart": restart}))
    assert policy.decide(ending, ran_s=1.0, now=0.0, jitter=0.5).action is action
