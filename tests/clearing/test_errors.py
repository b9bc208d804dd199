import pytest

from clearing.errors import (
    ClearingError,
    GenesisError,
    InsufficientCollateral,
    InvalidBlock,
    InvalidTransaction,
    OutsideBand,
    WrongBlockHeight,
)


def test_errors_render_their_numbers_and_name_their_code() -> None:
    error = InsufficientCollateral(b"\xab" * 20, 2, 31337, b"\x01" * 20, 10, 11)
    assert str(error) == (
        "InsufficientCollateral(member=0x" + "ab" * 20 + ", sub_account=2, chain_id=31337, "
        "token=0x" + "01" * 20 + ", available=10, requested=11)"
    )
    assert error.code == "InsufficientCollateral"
    assert OutsideBand("BTC-PERP", 70, 60, 500).price == 70


@pytest.mark.parametrize(
    ("error", "base"),
    [
        (OutsideBand("x", 1, 2, 3), InvalidTransaction),
        (GenesisError("k", "int", "s"), ClearingError),
        (WrongBlockHeight(2, 3), InvalidBlock),
    ],
)
def test_hierarchy(error: ClearingError, base: type) -> None:
    assert isinstance(error, base) and isinstance(error, ClearingError)
    with pytest.raises(base):
        raise error
