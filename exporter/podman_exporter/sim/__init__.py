"""The simulated Podman varlink service (demo mode, tests, benchmarks).

``start_simulator(address, SimOptions(...))`` serves ``io.projectatomic.podman``
and the control interface ``io.podman-exporter.simulator`` over a simulated fleet.
"""

from podman_exporter.sim.control import CONTROL_INTERFACE, control_interface
from podman_exporter.sim.faults import Faults, FaultState
from podman_exporter.sim.fleet import Fleet
from podman_exporter.sim.options import SimOptions
from podman_exporter.sim.service import SimulatorHandle, start_simulator

__all__ = [
    "CONTROL_INTERFACE",
    "FaultState",
    "Faults",
    "Fleet",
    "SimOptions",
    "SimulatorHandle",
    "control_interface",
    "start_simulator",
]
