"""The one CometBFT release clearnode runs: the binary `make install` builds and the
`.proto` files its ABCI types are generated from both come from this module version.

v0.38 is CometBFT's long-term-support line with ABCI 2.0 complete (PrepareProposal,
ProcessProposal, FinalizeBlock, vote extensions); dYdX v4 and the Cosmos SDK's
v0.50/v0.53 chains run it, so it is the release operators already run and audit.
"""

from __future__ import annotations

COMETBFT_MODULE = "github.com/cometbft/cometbft"
COMETBFT_VERSION = "v0.38.26"

PROTO_FILES = (
    "tendermint/abci/types.proto",
    "tendermint/crypto/keys.proto",
    "tendermint/crypto/proof.proto",
    "tendermint/types/block.proto",
    "tendermint/types/canonical.proto",
    "tendermint/types/evidence.proto",
    "tendermint/types/params.proto",
    "tendermint/types/types.proto",
    "tendermint/types/validator.proto",
    "tendermint/version/types.proto",
)
"""What ABCI's messages and a light client's checks (headers, canonical votes,
validator sets) need; the imports they name (gogoproto's) are generated beside them."""

GOGOPROTO_MODULE = "github.com/cosmos/gogoproto"
