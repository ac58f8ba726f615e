"""`runtime doctor` on a machine without a key or audio devices: every missing piece named, with a hint, exit 1.

Nothing here reaches beyond loopback: the endpoint is a closed port on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

from tests.doctor.helpers import checks_of, clean_env, closed_port, run_doctor, write_agent

AGENT = """model: gemini-3.8-live
audio:
  input: {device: "No Such Microphone"}
  output: {device: "No Such Speaker"}
tools:
  - name: set_timer
    description: Start a timer.
    python: kitchen_tools:set_timer
  - name: weather
    description: The weather.
    http: {url: "http://localhost:8080/weather?city={city}"}
    parameters: {type: object, properties: {city: {type: string}}, required: [city]}
"""
TOOLS = "def set_timer(minutes: int) -> str:\n    \"\"\"Start a timer.\"\"\"\n    return 'ok'\n"


def test_a_bare_machine_gets_every_missing_piece_with_a_hint_and_exit_1(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", AGENT)
    (agents / "kitchen_tools.py").write_text(TOOLS)
    port = closed_port()
    result = run_doctor(str(agents), "--json", "--base-url", f"https://127.0.0.1:{port}", env=clean_env())
    assert result.returncode == 1, result.stdout + result.stderr
    checks = checks_of(result)
    assert checks["kitchen.yaml"]["status"] == "pass"
    assert checks["kitchen tool set_timer"]["status"] == "pass"
    assert checks["kitchen tool weather"]["status"] == "pass"
    assert "localhost resolves" in checks["kitchen tool weather"]["detail"]
    credentials = checks["credentials"]
    assert credentials["status"] == "fail" and "GEMINI_API_KEY" in credentials["hint"]
    tls = checks[f"TLS to 127.0.0.1:{port}"]
    assert tls["status"] == "fail" and tls["hint"]
    microphone = next(check for name, check in checks.items() if name.startswith("kitchen microphone"))
    speaker = next(check for name, check in checks.items() if name.startswith("kitchen speaker"))
    for device in (microphone, speaker):
        assert device["status"] == "fail" and device["hint"], device
    assert checks["sessions"]["status"] == "skip"
    assert "Traceback" not in result.stderr


def test_the_text_report_marks_each_line_and_ends_with_a_verdict(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", "model: gemini-3.8-live\n")
    result = run_doctor(str(agents), "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    assert result.returncode == 1
    assert "✓ kitchen.yaml: valid" in result.stdout
    assert "✗ credentials: no API key and no token URL" in result.stdout
    assert "hint: set GEMINI_API_KEY" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("not ready:")


def test_a_broken_agent_file_is_located_and_a_broken_tool_named(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "broken", "model: gemini-3.8-live\nvoice: {nmae: Kore}\n")
    tool = "  - {name: t, description: d, python: missing_mod:f}\n"
    write_agent(agents, "tooly", "model: gemini-3.8-live\ntools:\n" + tool)
    result = run_doctor(str(agents), "--json", "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    checks = checks_of(result)
    assert checks["broken.yaml"]["status"] == "fail"
    assert "broken.yaml:2:" in checks["broken.yaml"]["detail"]
    assert checks["tooly.yaml"]["status"] == "fail" and "missing_mod" in checks["tooly.yaml"]["detail"]


def test_an_http_tool_whose_host_does_not_resolve_fails_without_a_request(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "hall", """model: gemini-3.8-live
tools:
  - name: lights
    description: Lights.
    http: {url: "http://no-such-host.invalid/lights"}
""")
    result = run_doctor(str(agents), "--json", "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    check = checks_of(result)["hall tool lights"]
    assert check["status"] == "fail" and "no-such-host.invalid does not resolve" in check["detail"]


def test_the_service_check_works_without_systemd(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    write_agent(agents, "kitchen", "model: gemini-3.8-live\n")
    result = run_doctor(str(agents), "--json", "--unit", "runtime-doctor-test.service",
                        "--base-url", f"https://127.0.0.1:{closed_port()}", env=clean_env())
    service = [check for check in checks_of(result).values() if check["family"] == "service"]
    words = " ".join(f"{check['detail']} {check['status']}" for check in service)
    assert "not installed" in words or "systemctl not available" in words


def test_trace_without_live_is_a_usage_error(tmp_path: Path) -> None:
    result = run_doctor(str(tmp_path), "--trace", str(tmp_path / "t.jsonl"), env=clean_env())
    assert result.returncode == 2 and "--trace needs --live" in result.stderr
