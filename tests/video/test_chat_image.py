"""`runtime chat` `/image PATH`: the image reaches the model as a frame (the emulator's image rule answers it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.video.images import write_image

SCENARIO = """\
rules:
  - when: {image: true}
    then: [{say: "I see a plant."}]
"""


def test_an_image_typed_in_chat_reaches_the_model(tmp_path: Path) -> None:
    (tmp_path / "kiosk.yaml").write_text("model: gemini-3.8-live\nresponse: text\n")
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    write_image(tmp_path / "plant.png", 1600, 1200, "PNG")
    with subprocess.Popen(
        [sys.executable, "-m", "runtime", "chat", str(tmp_path / "kiosk.yaml"), "--backend", "emulator",
         "--emulator-scenario", str(tmp_path / "scenario.yaml")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as chat:
        assert chat.stdin is not None and chat.stdout is not None
        chat.stdin.write(f"/image {tmp_path / 'missing.jpg'}\n/image {tmp_path / 'plant.png'}\n")
        chat.stdin.flush()
        seen = []
        for line in chat.stdout:  # each reply line as it comes; the test's timeout bounds the wait
            seen.append(line)
            if "I see a plant." in line:
                break
        chat.stdin.write("/quit\n")
        chat.stdin.close()
        stderr = chat.stderr.read() if chat.stderr else ""
        assert chat.wait(timeout=60) == 0, stderr
    assert any("agent" in line and "I see a plant." in line for line in seen), seen
    assert "missing.jpg: No such file or directory" in stderr
    assert "(image plant.png sent" in stderr
