// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Minimal ERC-20 surface the vault needs; return values are checked loosely
/// (see _callToken) so tokens that return nothing still work.
interface IERC20 {
    function balanceOf(address owner) external view returns (uint256);
}

/// Holds members' collateral on one chain. Value leaves only with an EIP-712
/// authorisation signed by validators holding more than 2/3 of the current
/// validator set's power; the set itself changes only by a quorum-signed rotation.
contract CollateralVault {
    /// Native coin is keyed by the zero address.
    address public constant NATIVE = address(0);
    /// secp256k1n / 2: signatures with a larger s are malleable twins and refused.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant NAME_HASH = keccak256("ClearnodeVault");
    bytes32 private constant VERSION_HASH = keccak256("1");
    bytes32 public constant WITHDRAWAL_TYPEHASH = keccak256(
        "Withdrawal(uint64 epoch,address member,address token,uint256 amount,address recipient,uint256 nonce,uint64 expiry)"
    );
    bytes32 public constant ROTATION_TYPEHASH =
        keccak256("Rotation(uint64 epoch,uint64 newEpoch,address[] validators,uint256[] powers)");
    bytes32 public constant UNLOCK_TYPEHASH = keccak256("Unlock(uint64 epoch,uint256 lockCount)");
    bytes32 public constant LOCK_TYPEHASH = keccak256("Lock(uint64 epoch,uint256 lockCount)");
    bytes32 public constant RATE_LIMIT_TYPEHASH = keccak256(
        "RateLimit(uint64 epoch,address token,uint256 capacity,uint256 refillPerSecond,uint256 nonce)"
    );

    struct Bucket {
        uint256 capacity; // 0 = no limit configured for this token
        uint256 refillPerSecond;
        uint256 available;
        uint256 updatedAt;
    }

    uint64 public epoch;
    address[] private validatorList;
    mapping(address => uint256) public powerOf;
    uint256 public totalPower;

    uint256 public depositNonce;
    /// Clearing numbers withdrawals per member, so a payout is keyed by (member, nonce).
    mapping(address => mapping(uint256 => bool)) public withdrawalUsed;
    bool public locked;
    uint256 public lockCount;
    uint256 public rateLimitNonce;
    mapping(address => Bucket) public buckets;
    bool private entered;

    event Deposited(
        address indexed member, address indexed token, uint256 amount, uint256 indexed nonce, uint32 subAccount
    );
    event Withdrawn(uint256 indexed nonce, address indexed member, address indexed token, uint256 amount, address recipient);
    event ValidatorSetRotated(uint64 indexed epoch, address[] validators, uint256[] powers);
    event Locked(address indexed by, uint256 lockCount);
    event Unlocked(uint256 lockCount);
    event RateLimitSet(address indexed token, uint256 capacity, uint256 refillPerSecond);

    error NotLocked();
    error IsLocked();
    error NotValidator(address caller);
    error ZeroAmount();
    error WrongValue(uint256 sent, uint256 expected);
    error TokenCallFailed(address token);
    error NativeTransferFailed(address recipient);
    error WrongEpoch(uint64 signed, uint64 current);
    error Expired(uint64 expiry, uint256 nowTime);
    error AlreadyUsed(address member, uint256 nonce);
    error BadSignatureLength(uint256 index, uint256 length);
    error HighS(uint256 index);
    error BadV(uint256 index, uint8 v);
    error ZeroSigner(uint256 index);
    error SignersNotAscending(uint256 index, address signer, address previous);
    error UnknownSigner(uint256 index, address signer);
    error NoQuorum(uint256 signedPower, uint256 totalPower);
    error EpochNotIncreasing(uint64 newEpoch, uint64 current);
    error BadValidatorSet(uint256 index);
    error RateLimited(address token, uint256 amount, uint256 available);
    error Reentrancy();

    modifier nonReentrant() {
        if (entered) revert Reentrancy();
        entered = true;
        _;
        entered = false;
    }

    constructor(address[] memory validators, uint256[] memory powers) {
        _setValidators(validators, powers);
        emit ValidatorSetRotated(0, validators, powers);
    }

    // ---- deposits -------------------------------------------------------

    /// Credits `member`'s `subAccount` with the amount the vault actually received
    /// (fee-on-transfer safe).
    function depositToken(address token, uint256 amount, address member, uint32 subAccount)
        external
        nonReentrant
    {
        if (locked) revert IsLocked();
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(token).balanceOf(address(this));
        _callToken(token, abi.encodeWithSelector(0x23b872dd, msg.sender, address(this), amount));
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        emit Deposited(member, token, received, ++depositNonce, subAccount);
    }

    function depositNative(address member, uint32 subAccount) external payable {
        if (locked) revert IsLocked();
        if (msg.value == 0) revert ZeroAmount();
        emit Deposited(member, NATIVE, msg.value, ++depositNonce, subAccount);
    }

    // ---- withdrawals ----------------------------------------------------

    /// Pays `amount` of `token` to `recipient` once per (`member`, `nonce`), if a quorum of the
    /// current epoch's validators signed exactly these fields for this chain and vault.
    function withdraw(
        uint64 signedEpoch,
        address member,
        address token,
        uint256 amount,
        address recipient,
        uint256 nonce,
        uint64 expiry,
        bytes[] calldata signatures
    ) external nonReentrant {
        if (locked) revert IsLocked();
        if (signedEpoch != epoch) revert WrongEpoch(signedEpoch, epoch);
        if (block.timestamp > expiry) revert Expired(expiry, block.timestamp);
        if (withdrawalUsed[member][nonce]) revert AlreadyUsed(member, nonce);
        bytes32 structHash = keccak256(
            abi.encode(WITHDRAWAL_TYPEHASH, signedEpoch, member, token, amount, recipient, nonce, expiry)
        );
        _requireQuorum(_digest(structHash), signatures);
        _spendBucket(token, amount);
        withdrawalUsed[member][nonce] = true;
        emit Withdrawn(nonce, member, token, amount, recipient);
        if (token == NATIVE) {
            (bool ok,) = recipient.call{value: amount}("");
            if (!ok) revert NativeTransferFailed(recipient);
        } else {
            _callToken(token, abi.encodeWithSelector(0xa9059cbb, recipient, amount));
        }
    }

    // ---- validator set, lock, rate limits -------------------------------

    function rotate(
        uint64 newEpoch,
        address[] calldata validators,
        uint256[] calldata powers,
        bytes[] calldata signatures
    ) external {
        if (newEpoch <= epoch) revert EpochNotIncreasing(newEpoch, epoch);
        bytes32 structHash = keccak256(
            abi.encode(
                ROTATION_TYPEHASH,
                epoch,
                newEpoch,
                keccak256(abi.encodePacked(validators)),
                keccak256(abi.encodePacked(powers))
            )
        );
        _requireQuorum(_digest(structHash), signatures);
        for (uint256 i = 0; i < validatorList.length; i++) {
            powerOf[validatorList[i]] = 0;
        }
        _setValidators(validators, powers);
        epoch = newEpoch;
        emit ValidatorSetRotated(newEpoch, validators, powers);
    }

    /// Any single validator can stop deposits and withdrawals at once.
    function lock() external {
        _lock(msg.sender);
    }

    /// The same, relayed by anyone: one validator's signature over the current lock
    /// count (so it is spent by the lock it pulls).
    function lockBySignature(bytes calldata signature) external {
        address signer = _recover(_digest(keccak256(abi.encode(LOCK_TYPEHASH, epoch, lockCount))), signature, 0);
        _lock(signer);
    }

    /// Only a quorum can lift the lock; the signature covers the lock count, so it
    /// cannot be replayed against a later lock.
    function unlock(bytes[] calldata signatures) external {
        if (!locked) revert NotLocked();
        _requireQuorum(_digest(keccak256(abi.encode(UNLOCK_TYPEHASH, epoch, lockCount))), signatures);
        locked = false;
        emit Unlocked(lockCount);
    }

    /// Token bucket per token: at most `capacity` out at once, refilled linearly.
    function setRateLimit(
        address token,
        uint256 capacity,
        uint256 refillPerSecond,
        bytes[] calldata signatures
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(RATE_LIMIT_TYPEHASH, epoch, token, capacity, refillPerSecond, rateLimitNonce)
        );
        _requireQuorum(_digest(structHash), signatures);
        rateLimitNonce += 1;
        buckets[token] = Bucket(capacity, refillPerSecond, capacity, block.timestamp);
        emit RateLimitSet(token, capacity, refillPerSecond);
    }

    function getValidators() external view returns (address[] memory list, uint256[] memory powers) {
        list = validatorList;
        powers = new uint256[](list.length);
        for (uint256 i = 0; i < list.length; i++) {
            powers[i] = powerOf[list[i]];
        }
    }

    function availableToWithdraw(address token) public view returns (uint256) {
        Bucket storage b = buckets[token];
        if (b.capacity == 0) return type(uint256).max;
        uint256 refilled = b.available + (block.timestamp - b.updatedAt) * b.refillPerSecond;
        return refilled < b.capacity ? refilled : b.capacity;
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    // ---- internals ------------------------------------------------------

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// Signers strictly ascending (so none counts twice), each a current validator,
    /// together holding strictly more than 2/3 of the power (3*signed > 2*total).
    function _requireQuorum(bytes32 digest, bytes[] calldata signatures) private view {
        address previous = address(0);
        uint256 signedPower = 0;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(digest, signatures[i], i);
            if (signer <= previous) revert SignersNotAscending(i, signer, previous);
            uint256 power = powerOf[signer];
            if (power == 0) revert UnknownSigner(i, signer);
            signedPower += power;
            previous = signer;
        }
        if (3 * signedPower <= 2 * totalPower) revert NoQuorum(signedPower, totalPower);
    }

    function _recover(bytes32 digest, bytes calldata sig, uint256 index) private pure returns (address) {
        if (sig.length != 65) revert BadSignatureLength(index, sig.length);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_ORDER) revert HighS(index);
        if (v != 27 && v != 28) revert BadV(index, v);
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert ZeroSigner(index);
        return signer;
    }

    function _lock(address validator) private {
        if (powerOf[validator] == 0) revert NotValidator(validator);
        locked = true;
        lockCount += 1;
        emit Locked(validator, lockCount);
    }

    function _setValidators(address[] memory validators, uint256[] memory powers) private {
        if (validators.length == 0 || validators.length != powers.length) revert BadValidatorSet(0);
        address previous = address(0);
        uint256 total = 0;
        for (uint256 i = 0; i < validators.length; i++) {
            if (validators[i] <= previous || powers[i] == 0) revert BadValidatorSet(i);
            powerOf[validators[i]] = powers[i];
            total += powers[i];
            previous = validators[i];
        }
        validatorList = validators;
        totalPower = total;
    }

    function _spendBucket(address token, uint256 amount) private {
        Bucket storage b = buckets[token];
        if (b.capacity == 0) return;
        uint256 available = availableToWithdraw(token);
        if (amount > available) revert RateLimited(token, amount, available);
        b.available = available - amount;
        b.updatedAt = block.timestamp;
    }

    /// Calls an ERC-20 function, accepting tokens that return nothing.
    function _callToken(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || token.code.length == 0 || (ret.length != 0 && !abi.decode(ret, (bool)))) {
            revert TokenCallFailed(token);
        }
    }
}
