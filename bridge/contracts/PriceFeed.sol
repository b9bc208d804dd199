// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The read side of Chainlink's AggregatorV3Interface: what bridge/pricefeed.py reads,
/// so the same reader works against a real Chainlink feed.
interface AggregatorV3Interface {
    function decimals() external view returns (uint8);

    function description() external view returns (string memory);

    function version() external view returns (uint256);

    function getRoundData(uint80 roundId)
        external
        view
        returns (
            uint80 roundId_,
            int256 answer,
            uint256 startedAt,
            uint256 updatedAt,
            uint80 answeredInRound
        );

    function latestRoundData()
        external
        view
        returns (
            uint80 roundId,
            int256 answer,
            uint256 startedAt,
            uint256 updatedAt,
            uint80 answeredInRound
        );
}

/// A price feed for devnets and tests: its owner writes the answers. Each `update` opens
/// and answers a new round at the block time; `setRound` writes any round verbatim, so
/// tests can present stale, incomplete or negative rounds the way a real feed might.
contract PriceFeed is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    address public immutable owner;
    uint8 public immutable override decimals;
    string public override description;
    uint80 public latestRound;
    mapping(uint80 => Round) private rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NotOwner(address caller);
    error NoDataPresent(uint80 roundId);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        owner = msg.sender;
        decimals = decimals_;
        description = description_;
        update(initialAnswer);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    function version() external pure override returns (uint256) {
        return 4;
    }

    /// A new complete round answering `answer` now.
    function update(int256 answer) public onlyOwner {
        uint80 roundId = latestRound + 1;
        _write(roundId, Round(answer, block.timestamp, block.timestamp, roundId));
    }

    /// Round `roundId` exactly as given; it becomes the latest round.
    function setRound(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) external onlyOwner {
        _write(roundId, Round(answer, startedAt, updatedAt, answeredInRound));
    }

    function _write(uint80 roundId, Round memory round) private {
        rounds[roundId] = round;
        latestRound = roundId;
        emit AnswerUpdated(round.answer, roundId, round.updatedAt);
    }

    function getRoundData(uint80 roundId)
        public
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        Round memory round = rounds[roundId];
        if (round.updatedAt == 0 && round.answeredInRound == 0) revert NoDataPresent(roundId);
        return (roundId, round.answer, round.startedAt, round.updatedAt, round.answeredInRound);
    }

    function latestRoundData()
        external
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        return getRoundData(latestRound);
    }
}
