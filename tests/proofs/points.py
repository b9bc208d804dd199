"""Curve points the group backends must all treat alike: off the prime-order subgroup."""

from __future__ import annotations

from py_ecc.bls import point_compression as ecc_pc
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import optimized_curve as ecc

from proofs.group import R

FIELD_P = ecc.field_modulus


def make_off_subgroup_point(start: int) -> bytes:
    """The compressed encoding of a curve point outside the order-R subgroup: the one of
    least x >= `start`."""
    x = start
    while True:
        rhs = (x**3 + 4) % FIELD_P
        y = pow(rhs, (FIELD_P + 1) // 4, FIELD_P)
        if y * y % FIELD_P == rhs:
            point = (FQ(x), FQ(y), FQ.one())
            if not ecc.is_inf(ecc.multiply(point, R)):
                return int(ecc_pc.compress_G1(point)).to_bytes(48, "big")
        x += 1
