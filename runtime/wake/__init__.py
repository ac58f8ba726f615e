"""Wake word, conversation lifecycle and the mute switch: nothing leaves the device until it is addressed.

- `detector`: `WakeDetector` and its backends (`MicroWakeDetector`, `OpenWakeDetector`), `load_detector(spec)`.
- `gate`: `WakeGate`, an `AudioIn` that returns microphone audio only inside a conversation; `wake_gate_for`.
- `lifecycle`: the pure parts (states, events, energy VAD, idle timer).
- `mute`: the process-wide `MuteSwitch`, `MutedAudioIn`, SIGUSR1; `button`: an evdev mute button.
- `earcons`: the start and end sounds.
"""
