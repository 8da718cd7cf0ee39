"""A fault-injection run over real processes: nothing an `update` acknowledged is lost.

Three durable replica processes in a full websocket mesh, SIGKILLed and restarted, their links
cut and stalled through proxies, updating counters, sets, maps and one document concurrently;
afterwards every acknowledged update must be visible in every replica. `python -m
simulations faults --seed 1 --updates 10000` (or `python -m simulations.faults`).
"""

from .run import FaultConfig, FaultReport, run_faults

__all__ = ["FaultConfig", "FaultReport", "run_faults"]
