"""What other segments may use of 3B (the only 3B module they may import): the binding
routing contract law, so 5B.S4 can check ``virtual_routing_policy_3B`` against it."""

from engine_core.segments.seg_3B.s4_routing_contract import routing_policy

__all__ = ["routing_policy"]
