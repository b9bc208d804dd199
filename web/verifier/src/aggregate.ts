/** Aggregate checks from published sums of blinding factors (proofs/aggregate.py). */

import type { Generators } from "./generators";
import { type Point, mod, pointsEqual, sum } from "./group";
import { formatHexInt } from "./pyformat";
import { reprList, reprStr, sortedStrings } from "./recompute/pyrepr.js";
import type { AggregateEntry } from "./report";
import { CASH_LABEL, COLLATERAL_PREFIX, POSITION_PREFIX, type Statement } from "./statement";

export const isAggregated = (label: string): boolean =>
  label === CASH_LABEL || label.startsWith(COLLATERAL_PREFIX) || label.startsWith(POSITION_PREFIX);

/** Every failure, as a sentence; `inClear` are the inputs of the accounts in default. */
export function checkAggregates(
  gens: Generators,
  statement: Statement,
  commitments: Point[][],
  entries: AggregateEntry[],
  inClear: bigint[][],
): string[] {
  const failures: string[] = [];
  const byLabel = new Map(entries.map((e) => [e.label, e]));
  if (byLabel.size !== entries.length) failures.push("aggregate labels are not unique");
  const expected = statement.inputLabels.filter(isAggregated);
  const have = sortedStrings(byLabel.keys());
  const want = sortedStrings(expected);
  if (have.length !== want.length || have.some((x, i) => x !== want[i])) {
    failures.push(`aggregates cover ${reprList(have)}, expected ${reprList(want)}`);
  }
  statement.inputLabels.forEach((label, j) => {
    const entry = byLabel.get(label);
    if (entry === undefined) return;
    const published = inClear.reduce((acc, x) => acc + x[j]!, 0n);
    if (label.startsWith(POSITION_PREFIX) && entry.total + published !== 0n) {
      failures.push(`book not flat: total of ${reprStr(label)} is ${entry.total} proven + ${published} in default`);
    }
    const column = sum(commitments.map((c) => c[j]!));
    if (!pointsEqual(column, gens.commit(mod(entry.total), entry.blindingSum))) {
      failures.push(
        `sum of commitments to ${reprStr(label)} does not open to the published total ` +
          `${entry.total} with blinding sum ${formatHexInt(entry.blindingSum)}`,
      );
    }
  });
  return failures;
}
