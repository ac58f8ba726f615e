"""The retry ladder (runtime/retry.py), as arithmetic: one backoff, a session's reconnects, the supervisor's
restarts, restart intensity, parking."""

from __future__ import annotations

import random

import pytest

from runtime.agentfile.spec import Supervision
from runtime.retry import (
    DEVICE_POLL_S,
    Action,
    Next,
    Reconnects,
    Recovery,
    RestartPolicy,
    RetryPolicy,
    RunEnd,
    backoff_delay_s,
)


@pytest.mark.parametrize(("failures", "expected"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)])
def test_backoff_doubles_from_the_low_bound_up_to_the_high_bound(failures: int, expected: float) -> None:
    assert backoff_delay_s(failures, (1.0, 60.0), jitter=0.999999) == pytest.approx(expected, rel=1e-5)


def test_jitter_spreads_the_wait_over_the_upper_half_of_its_step() -> None:
    assert backoff_delay_s(4, (1.0, 60.0), jitter=0.0) == 4.0
    assert backoff_delay_s(1, (1.0, 60.0), jitter=0.0) == 0.5
    assert backoff_delay_s(1, (1.0, 60.0), jitter=1.0) == 1.0
    delays = {backoff_delay_s(5, (1.0, 60.0), jitter=j / 10) for j in range(10)}
    assert len(delays) == 10 and min(delays) >= 8.0 and max(delays) < 16.0


def test_a_restart_never_waits_less_than_the_first_backoff() -> None:
    policy = RestartPolicy(Supervision(backoff_s=(1.0, 60.0), max_restarts=100))
    assert policy.decide(RunEnd.ERROR, ran_s=0.1, now=0.0, jitter=0.0).delay_s == 1.0
    assert policy.decide(RunEnd.ERROR, ran_s=0.1, now=1.0, jitter=0.0).delay_s == 1.0


def test_without_jitter_the_steps_double_up_to_the_cap() -> None:
    """The audio keeper's reopen waits: 0.5 s after a loss, doubling with each failed reopen, up to 8 s."""
    assert [backoff_delay_s(n, (0.5, 8.0), jitter=1.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_bounds_given_in_either_order_mean_the_same() -> None:
    assert backoff_delay_s(3, (60.0, 1.0), 0.5) == backoff_delay_s(3, (1.0, 60.0), 0.5)


def test_parks_after_max_restarts_within_the_window() -> None:
    policy = RestartPolicy(Supervision(max_restarts=3, window_s=10.0, backoff_s=(1.0, 8.0)))
    actions = [policy.decide(RunEnd.ERROR, ran_s=0.1, now=float(t), jitter=0.0).action for t in range(5)]
    assert actions == [Action.RESTART] * 3 + [Action.PARK, Action.PARK]


def test_restarts_older_than_the_window_no_longer_count() -> None:
    policy = RestartPolicy(Supervision(max_restarts=2, window_s=10.0))
    for now in (0.0, 1.0):
        assert policy.decide(RunEnd.ERROR, ran_s=0.1, now=now, jitter=0.0).action is Action.RESTART
    assert policy.decide(RunEnd.ERROR, ran_s=0.1, now=5.0, jitter=0.0).action is Action.PARK
    assert policy.decide(RunEnd.ERROR, ran_s=0.1, now=11.5, jitter=0.0).action is Action.RESTART


def test_max_restarts_zero_parks_on_the_first_failure() -> None:
    policy = RestartPolicy(Supervision(max_restarts=0))
    decision = policy.decide(RunEnd.HUNG, ran_s=1.0, now=0.0, jitter=0.0)
    assert decision.action is Action.PARK and "max_restarts 0" in decision.reason


def test_a_long_healthy_run_resets_the_backoff() -> None:
    policy = RestartPolicy(Supervision(backoff_s=(1.0, 60.0), max_restarts=100))
    delays = [policy.decide(RunEnd.ERROR, ran_s=0.1, now=float(t), jitter=0.999).delay_s for t in range(4)]
    assert [round(d) for d in delays] == [1, 2, 4, 8]
    assert policy.decide(RunEnd.ERROR, ran_s=3600.0, now=10.0, jitter=0.999).delay_s == 1.0


def test_fatal_errors_are_retried_at_the_slowest_pace() -> None:
    decision = RestartPolicy(Supervision(backoff_s=(1.0, 60.0))).decide(RunEnd.FATAL, ran_s=0, now=0, jitter=0)
    assert decision.action is Action.RESTART and decision.delay_s == 60.0


def test_a_missing_device_is_waited_for_and_never_counts_as_a_restart() -> None:
    policy = RestartPolicy(Supervision(max_restarts=1))
    delays = []
    for now in range(50):
        decision = policy.decide(RunEnd.DEVICE, ran_s=0.0, now=float(now), jitter=0.0)
        assert decision.action is Action.WAIT_DEVICE
        delays.append(decision.delay_s)
    assert delays[0] == pytest.approx(DEVICE_POLL_S[0], rel=1e-3)
    assert delays[-1] == pytest.approx(DEVICE_POLL_S[1], rel=1e-3)
    assert delays == sorted(delays), "looking for a missing device gets less frequent, never more"
    assert policy.decide(RunEnd.ERROR, ran_s=0.0, now=60.0, jitter=0.0).action is Action.RESTART


@pytest.mark.parametrize(
    ("restart", "ending", "action"),
    [
        ("always", RunEnd.CLEAN, Action.RESTART),
        ("always", RunEnd.ERROR, Action.RESTART),
        ("on_failure", RunEnd.CLEAN, Action.STOP),
        ("on_failure", RunEnd.ERROR, Action.RESTART),
        ("on_failure", RunEnd.HUNG, Action.RESTART),
        ("never", RunEnd.CLEAN, Action.STOP),
        ("never", RunEnd.ERROR, Action.PARK),
        ("never", RunEnd.FATAL, Action.PARK),
    ],
)
def test_restart_modes(restart: str, ending: RunEnd, action: Action) -> None:
    policy = RestartPolicy(Supervision.model_validate({"restart": restart}))
    assert policy.decide(ending, ran_s=1.0, now=0.0, jitter=0.5).action is action


def reconnect_delays(reconnects: Reconnects, recoveries: list[Recovery], rng: random.Random) -> list[float]:
    return [reconnects.after(r, ready=True, lasted_s=0.1, jitter=rng.random()).delay_s for r in recoveries]


def test_a_session_reconnects_at_once_then_doubles_with_jitter_up_to_the_cap() -> None:
    reconnects = Reconnects(RetryPolicy(first_backoff_s=1.0, longest_backoff_s=8.0))
    delays = reconnect_delays(reconnects, [Recovery.RESUME] * 7, random.Random(7))
    assert delays[0] == 0.0
    for delay, ceiling in zip(delays[1:], [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_a_handover_or_a_healthy_connection_starts_the_backoff_over() -> None:
    reconnects = Reconnects(RetryPolicy(first_backoff_s=1.0, longest_backoff_s=8.0, healthy_after_s=10.0))
    reconnect_delays(reconnects, [Recovery.RESUME] * 4, random.Random(1))
    assert reconnect_delays(reconnects, [Recovery.HANDOVER, Recovery.RESUME], random.Random(1)) == [0.0, 0.0]
    reconnect_delays(reconnects, [Recovery.RESUME] * 3, random.Random(1))
    assert reconnects.after(Recovery.RESUME, ready=True, lasted_s=10.0, jitter=0.5).delay_s == 0.0
    assert reconnects.after(Recovery.FRESH, ready=True, lasted_s=0.1, jitter=0.5).delay_s == 0.75


def test_auth_failures_wait_longer_each_time_then_give_up_as_fatal() -> None:
    reconnects = Reconnects(RetryPolicy(fatal_retry_s=30.0, fatal_attempts=3))
    steps = [reconnects.after(Recovery.FATAL, ready=False, lasted_s=0.1, jitter=0.5) for _ in range(3)]
    assert [(s.next, s.delay_s) for s in steps] == [(Next.RECONNECT, 30.0), (Next.RECONNECT, 60.0),
                                                    (Next.GIVE_UP_FATAL, 0.0)]
    assert steps[-1].tries == 3


def test_a_server_never_reached_makes_the_session_give_up_and_one_setup_complete_starts_over() -> None:
    reconnects = Reconnects(RetryPolicy(give_up_after=3))
    assert [reconnects.after(Recovery.RESUME, ready=False, lasted_s=0.1, jitter=0.5).next for _ in range(2)] == [
        Next.RECONNECT, Next.RECONNECT]
    assert reconnects.after(Recovery.RESUME, ready=True, lasted_s=0.1, jitter=0.5).next is Next.RECONNECT
    steps = [reconnects.after(Recovery.RESUME, ready=False, lasted_s=0.1, jitter=0.5) for _ in range(3)]
    assert [s.next for s in steps] == [Next.RECONNECT, Next.RECONNECT, Next.GIVE_UP] and steps[-1].tries == 3


def test_a_refused_credential_parks_the_agent_at_once_and_is_told_apart_from_other_fatal_errors() -> None:
    from runtime.daemon.supervisor import classify
    from runtime.errors import CredentialRefused, FatalSessionError
    from runtime.retry import Action, RestartPolicy, RunEnd

    policy = RestartPolicy(Supervision())
    decision = policy.decide(RunEnd.REFUSED, ran_s=1.0, now=0.0, jitter=0.5)
    assert decision.action is Action.PARK and "token service refused" in decision.reason
    assert classify(CredentialRefused("revoked")) is RunEnd.REFUSED
    assert classify(BaseExceptionGroup("g", [FatalSessionError("quota"), CredentialRefused("x")])) is RunEnd.REFUSED
    assert classify(FatalSessionError("quota")) is RunEnd.FATAL
