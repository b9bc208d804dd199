/** What a report shows per clearing member (proofs/clearing_members.py): its house, and
 * its clients' accounts as their segregation model requires, from the published roles
 * under the state root (clearing/published_roles.py), in the Python's words. */

import { decodeMsgpack, encodeMsgpack } from "./msgpack";
import { equal, toHex } from "./bytes";
import { decodeError, expectBytes, expectInt, expectList, expectStr } from "./codec";
import { DecodeError } from "./errors";
import { getMarketRoot } from "./market";
import type { DefaultEntry, Report } from "./report";
import { equityOf } from "./defaults";
import { reprStr } from "./recompute/pyrepr.js";
import type { Verdict } from "./verify";

const PUBLISHED_ROLES_VERSION = 1n;
const MODELS = ["omnibus", "segregated"]; // SegregationModel, in declaration order

interface ClientRole {
  client: Uint8Array;
  member: Uint8Array; // empty: no clearing member (its member defaulted)
  model: string;
}

interface PublishedRoles {
  clearingMembers: Uint8Array[];
  clients: ClientRole[];
}

/** PublishedRoles.decode: canonical bytes only. */
function decodeRoles(data: Uint8Array): PublishedRoles {
  const [version, members, clients] = expectList(decodeMsgpack(data), "roles", 3);
  if (expectInt(version!, "roles.version") !== PUBLISHED_ROLES_VERSION) {
    throw decodeError("roles.version", `${version}, expected ${PUBLISHED_ROLES_VERSION}`);
  }
  const clearingMembers = expectList(members!, "clearing_members").map((m) => expectBytes(m, "clearing_member", 20));
  const roles = expectList(clients!, "clients").map((item): ClientRole => {
    const [client, member, model] = expectList(item, "client", 3);
    const empty = member instanceof Uint8Array && member.length === 0;
    const name = expectStr(model!, "model");
    if (!MODELS.includes(name)) throw decodeError("model", `${reprStr(name)} is not one of ['omnibus', 'segregated']`);
    return {
      client: expectBytes(client!, "client", 20),
      member: empty ? new Uint8Array() : expectBytes(member!, "clearing_member", 20),
      model: name,
    };
  });
  for (let i = 1; i < clearingMembers.length; i++) {
    if (toHex(clearingMembers[i - 1]!) >= toHex(clearingMembers[i]!)) throw decodeError("clearing_members", "must be strictly sorted");
  }
  for (let i = 1; i < roles.length; i++) {
    if (toHex(roles[i - 1]!.client) >= toHex(roles[i]!.client)) throw decodeError("clients", "must be strictly sorted");
  }
  const again = encodeMsgpack([PUBLISHED_ROLES_VERSION, clearingMembers, roles.map((r) => [r.client, r.member, r.model])]);
  if (!equal(again, data)) throw decodeError("published roles", "not canonical");
  return { clearingMembers, clients: roles };
}

const plural = (n: number): string => (n !== 1 ? "s" : "");

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group === undefined) groups.set(key(item), [item]);
    else group.push(item);
  }
  return groups;
}

/** check_clearing_members. */
export function checkClearingMembers(report: Report): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  if (!equal(getMarketRoot(report.marketProof, report.market), report.stateRoot)) {
    verdict.notChecked.push("clearing members not shown: the roles the report carries are not under its state root");
    return verdict;
  }
  let roles: PublishedRoles;
  try {
    roles = decodeRoles(report.marketProof.roles);
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    verdict.failures.push(`clearing members: the roles under the state root do not decode: ${exc.message}`);
    return verdict;
  }
  if (roles.clearingMembers.length === 0 && roles.clients.length === 0) {
    verdict.passed.push("open membership: every account clears for itself");
    return verdict;
  }
  const members = roles.clearingMembers.length;
  const clients = roles.clients.length;
  verdict.passed.push(`roles under the state root: ${members} clearing member${plural(members)}, ${clients} client account${plural(clients)}`);
  const proven = new Map<string, number>();
  for (const entry of report.accounts) proven.set(toHex(entry.owner), (proven.get(toHex(entry.owner)) ?? 0) + 1);
  const failing = groupBy(report.inDefault, (entry) => toHex(entry.owner));
  const inDefault = (owner: Uint8Array): DefaultEntry[] => failing.get(toHex(owner)) ?? [];
  const provenOf = (owner: Uint8Array): number => proven.get(toHex(owner)) ?? 0;
  const byMember = groupBy(roles.clients, (role) => toHex(role.member));
  for (const member of roles.clearingMembers) {
    verdict.passed.push(describeClearingMember(member, byMember.get(toHex(member)) ?? [], provenOf, inDefault));
  }
  for (const role of roles.clients) {
    if (role.member.length === 0) {
      verdict.passed.push(
        `client 0x${toHex(role.client)} (${role.model}) has no clearing member: its member defaulted and no backup ` +
          "took it (it may join another before its positions are closed out)",
      );
    }
    for (const entry of inDefault(role.client)) {
      const equity = equityOf(report, entry.inputs);
      const shown = equity === null ? "equity not read" : `equity ${equity}`;
      const who = `client 0x${toHex(entry.owner)} sub ${entry.subaccount} (${role.model}) in default`;
      verdict.passed.push(
        role.member.length === 0
          ? `${who}, ${shown}: no clearing member guarantees it; the waterfall meets it`
          : `${who}, ${shown}: its own collateral, then its clearing member 0x${toHex(role.member)}'s house, meet ` +
              "the shortfall before anything mutualised",
      );
    }
  }
  return verdict;
}

function describeClearingMember(
  member: Uint8Array,
  clients: ClientRole[],
  provenOf: (owner: Uint8Array) => number,
  inDefault: (owner: Uint8Array) => unknown[],
): string {
  const proven = provenOf(member);
  const failing = inDefault(member).length;
  let house = "house: no account";
  if (proven !== 0 || failing !== 0) {
    house = `house: ${proven} sub-account${plural(proven)} proven solvent` + (failing ? `, ${failing} in default` : "");
  }
  const counts = MODELS.map((m) => `${clients.filter((c) => c.model === m).length} ${m}`).join(", ");
  const defaulted = clients.filter((c) => inDefault(c.client).length > 0).length;
  const provenClients = clients.filter((c) => provenOf(c.client) > 0 && inDefault(c.client).length === 0).length;
  const empty = clients.length - defaulted - provenClients;
  let text = `clearing member 0x${toHex(member)}: ${house}; ${clients.length} client account${plural(clients.length)} (${counts})`;
  if (clients.length === 0) return text;
  text += `, each margined on its own with its own collateral: ${provenClients} proven solvent`;
  if (empty) text += `, ${empty} empty`;
  return text + (defaulted ? `, ${defaulted} in default` : "");
}
