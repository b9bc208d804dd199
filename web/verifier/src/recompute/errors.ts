/**
 * Typed errors of the recomputation, each carrying what explains it and worded
 * like its Python counterpart (`str()` of `clearing.errors.GenesisError` is
 * `GenesisError(key='risk.k_num', expected='...', got=1)`).
 */

import { repr, reprStr, reprTuple } from "./pyrepr.js";

/** Genesis key `key` is not `expected` (it was `got`): `clearing.errors.GenesisError`. */
export class GenesisError extends Error {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`GenesisError(key=${reprStr(key)}, expected=${reprStr(expected)}, got=${repr(got)})`);
    this.name = "GenesisError";
  }

  override toString(): string {
    return this.message;
  }
}

/** The market's `kind` (`mark_prices`, `index_prices`) does not price exactly the
 * genesis's ids: `clearing.risk.errors.MarketMismatch`. */
export class MarketMismatch extends Error {
  constructor(
    readonly kind: string,
    readonly missing: readonly string[],
    readonly extra: readonly string[],
  ) {
    super(`MarketMismatch(kind=${reprStr(kind)}, missing=${reprTuple(missing)}, extra=${reprTuple(extra)})`);
    this.name = "MarketMismatch";
  }
}

/** A statement that breaks `proofs.statement.SolvencyStatement`'s rules. */
export class StatementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatementError";
  }
}

/** Black-76 of an option whose future a scenario moves to a price < 0 before its
 * expiry: the logarithm of the moneyness is undefined. A risk section that allows such
 * a move is refused (`checkExtremeMoves`, as clearing/risk/params.py), so this names a
 * broken invariant instead of letting an exception escape the page. */
export class OptionValueUndefined extends Error {
  constructor(
    readonly instrumentId: string,
    readonly scenario: string,
    readonly forward: bigint,
  ) {
    super(
      `Black-76 is undefined for option ${reprStr(instrumentId)} in scenario ${scenario}: ` +
        `its future moves to ${forward}`,
    );
    this.name = "OptionValueUndefined";
  }
}
