"""Which PortAudio device an agent file means, and which rate and channel count to open it with.

Pure functions over the device list PortAudio reports (a list of mappings as `sounddevice.query_devices()`
returns them), so the choice is tested without hardware.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from runtime.errors import DeviceError

Kind = Literal["input", "output"]
DeviceList = Sequence[Mapping[str, Any]]


def channels_of(device: Mapping[str, Any], kind: Kind) -> int:
    """How many channels the device offers in that direction."""
    return int(device.get(f"max_{kind}_channels", 0))


def choose_device(devices: DeviceList, default_index: int, wanted: str | int, kind: Kind) -> int:
    """The PortAudio index for `wanted`: an index, `default`, or a case-insensitive name substring.

    An exact name wins over a substring match, so `default` and `pulse` are never shadowed by longer names.
    """
    if isinstance(wanted, int) or (isinstance(wanted, str) and wanted.strip().isdigit()):
        index = int(wanted)
        if 0 <= index < len(devices) and channels_of(devices[index], kind) > 0:
            return index
        raise DeviceError(f"no {kind} device with index {index}; {_listing(devices, kind)}")
    name = wanted.strip()
    is_default = name.lower() == "default" and 0 <= default_index < len(devices)
    if is_default and channels_of(devices[default_index], kind) > 0:
        return default_index
    candidates = [i for i, device in enumerate(devices) if channels_of(device, kind) > 0]
    for index in candidates:
        if str(devices[index]["name"]).lower() == name.lower():
            return index
    for index in candidates:
        if name.lower() in str(devices[index]["name"]).lower():
            return index
    raise DeviceError(f"no {kind} device matches {wanted!r}; {_listing(devices, kind)}")


def _listing(devices: DeviceList, kind: Kind) -> str:
    names = [f"{i}: {d['name']}" for i, d in enumerate(devices) if channels_of(d, kind) > 0]
    if not names:
        return f"this machine has no {kind} devices (run `runtime devices`)"
    return f"available: {', '.join(names)} (run `runtime devices`)"


def choose_format(
    device: Mapping[str, Any], kind: Kind, api_rate_hz: int, supports: Callable[[int, int], bool]
) -> tuple[int, int]:
    """(rate, channels) to open the device with: the API's rate in mono if the device takes it, else its own.

    `supports(rate, channels)` asks PortAudio; the first accepted combination wins. Converting in software
    (soxr) is only done when the hardware cannot run at the API's rate.
    """
    native_rate = int(device.get("default_samplerate") or api_rate_hz)
    max_channels = max(1, channels_of(device, kind))
    tries: list[tuple[int, int]] = []
    for rate in (api_rate_hz, native_rate, 48_000, 44_100):
        for channels in (1, 2, max_channels):
            if channels <= max_channels and (rate, channels) not in tries:
                tries.append((rate, channels))
    for rate, channels in tries:
        if supports(rate, channels):
            return rate, channels
    raise DeviceError(f"{device.get('name')!r} accepts none of {tries} as int16 {kind}")
