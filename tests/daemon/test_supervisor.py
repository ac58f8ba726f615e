"""One supervisor per agent, with fake sessions: crash, hang, missing device, isolation."""

from __future__ import annotations

import logging

import anyio
import pytest

from runtime.agentfile.spec import Supervision
from runtime.daemon.events import AgentState
from runtime.daemon.supervisor import Supervisor
from tests.daemon.fakes import Sessions


def rules(**overrides: object) -> Supervision:
    """Supervision scaled down to test time: backoff of milliseconds."""
    return Supervision.model_validate({"backoff_s": (0.01, 0.04), "window_s": 60.0, **overrides})


async def _run_until(supervisor: Supervisor, state: AgentState, timeout_s: float = 5.0) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(supervisor.run)
        with anyio.fail_after(timeout_s):
            while supervisor.state is not state:
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_crashing_session_is_restarted_then_parked_at_the_restart_limit() -> None:
    sessions = Sessions(lambda _n: "crash_at_start")
    supervisor = Supervisor("kitchen", rules(max_restarts=3), sessions)
    with anyio.fail_after(5):
        await supervisor.run()
    assert supervisor.state is AgentState.PARKED
    assert len(sessions.made) == 4
    assert "setup rejected" in supervisor.detail


@pytest.mark.anyio
async def test_a_crash_after_start_is_restarted_and_runs_again() -> None:
    sessions = Sessions(lambda n: "crash_after_start" if n < 2 else "ok")
    supervisor = Supervisor("kitchen", rules(), sessions)
    await _run_until(supervisor, AgentState.RUNNING)
    await anyio.sleep(0)
    assert supervisor.starts >= 1


@pytest.mark.anyio
async def test_the_watchdog_restarts_a_session_that_stopped_making_progress() -> None:
    sessions = Sessions(lambda n: "hang_after_start" if n == 0 else "ok")
    supervisor = Supervisor("kitchen", rules(watchdog_s=0.2), sessions)
    async with anyio.create_task_group() as tg:
        tg.start_soon(supervisor.run)
        with anyio.fail_after(5):
            while len(sessions.made) < 2 or not sessions.made[1].started.is_set():
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert sessions.made[0].cancelled, "the hung session was cancelled, so it could close its socket"


@pytest.mark.anyio
async def test_a_session_that_hangs_before_setup_complete_is_restarted_by_the_watchdog() -> None:
    sessions = Sessions(lambda n: "hang" if n == 0 else "ok")
    supervisor = Supervisor("kitchen", rules(watchdog_s=0.2), sessions)
    await _run_until(supervisor, AgentState.RUNNING)
    assert len(sessions.made) == 2


@pytest.mark.anyio
async def test_a_missing_device_is_reported_once_and_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sessions = Sessions(lambda n: "device" if n < 3 else "ok")
    supervisor = Supervisor("kitchen", rules(max_restarts=0), sessions, device_poll_s=(0.01, 0.02))
    await _run_until(supervisor, AgentState.RUNNING)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("waiting for it" in m for m in messages) == 1
    assert any("audio device is back" in m for m in messages)
    assert supervisor.policy.failures == 0, "waiting for a device never counts as a restart"


@pytest.mark.anyio
async def test_on_failure_does_not_restart_a_session_that_ended_by_itself() -> None:
    sessions = Sessions(lambda _n: "exit")
    supervisor = Supervisor("desk", rules(restart="on_failure"), sessions)
    with anyio.fail_after(5):
        await supervisor.run()
    assert supervisor.state is AgentState.STOPPED and len(sessions.made) == 1


@pytest.mark.anyio
async def test_one_agents_crashes_never_touch_another() -> None:
    crashing = Sessions(lambda _n: "crash_after_start")
    healthy = Sessions()
    bad = Supervisor("bad", rules(max_restarts=2), crashing)
    good = Supervisor("good", rules(), healthy)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bad.run)
        tg.start_soon(good.run)
        with anyio.fail_after(5):
            await bad.finished.wait()
        assert bad.state is AgentState.PARKED
        assert good.state is AgentState.RUNNING and len(healthy.made) == 1
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_every_log_line_of_a_supervised_session_names_its_agent(caplog: pytest.LogCaptureFixture) -> None:
    from runtime.daemon.logs import AgentFilter

    caplog.handler.addFilter(AgentFilter())
    sessions = Sessions(lambda _n: "crash_at_start")
    supervisor = Supervisor("kitchen", rules(max_restarts=1), sessions)
    await supervisor.run()
    assert caplog.records and all(getattr(r, "agent", "") == "kitchen" for r in caplog.records)
