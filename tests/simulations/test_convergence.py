"""Convergence of the engine under every fault the discrete-event network simulates.

Derandomized by default, so a failure reproduces on every run; CRDTSTATE_LONG=1 multiplies
the example counts by 20 and explores randomly.
"""

from __future__ import annotations

from .machine import ConvergenceMachine, machine_settings


class ClassicDeltaMachine(ConvergenceMachine):
    """The benchmark baselines (no BP, no RR) must converge too: only their cost differs."""

    back_propagation = False
    remove_redundant = False


TestConvergence = ConvergenceMachine.TestCase
TestConvergence.settings = machine_settings(examples=2500, steps=40)

TestClassicDeltaConvergence = ClassicDeltaMachine.TestCase
TestClassicDeltaConvergence.settings = machine_settings(examples=300, steps=40)
