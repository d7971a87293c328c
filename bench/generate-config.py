#!/usr/bin/env python3
"""Writes one offline environment (spec §5 directory format) sized like a busy real one, for bench/sdk-ratios.sh:
FLAGS flags (default 200) of every kind, GROUPS target groups (default 20) and TARGETS targets, with rules whose
clauses use every operator, group look-ups, per-variation target maps, prerequisites and percentage rollouts.
Deterministic (fixed seed), so two runs serve the same bytes.

    bench/generate-config.py <config dir> <environment uuid> <sdk key> [flags] [groups] [targets]
"""
import hashlib
import json
import os
import random
import sys

ATTRIBUTES = {
    "email": lambda r, i: f"user{i}@{r.choice(['example.com', 'shop.test', 'corp.example', 'mail.test'])}",
    "plan": lambda r, i: r.choice(["free", "pro", "team", "enterprise", "beta"]),
    "country": lambda r, i: r.choice(["DE", "FR", "US", "GB", "JP", "BR", "IN"]),
    "age": lambda r, i: str(r.randint(16, 80)),
    "device": lambda r, i: r.choice(["ios", "android", "web", "desktop"]),
}


def target(r, i):
    return {"identifier": f"user-{i}", "name": f"User {i}", "anonymous": False,
            "attributes": {name: make(r, i) for name, make in ATTRIBUTES.items()}}


def attribute_clause(r, cid):
    attribute = r.choice(list(ATTRIBUTES) + ["identifier", "name"])
    op, values = r.choice([
        ("equal", [r.choice(["pro", "DE", "ios", "user-3"])]),
        ("equal_sensitive", [r.choice(["Pro", "US", "web"])]),
        ("in", r.sample(["free", "pro", "team", "DE", "FR", "US", "android", "web", "user-1", "user-2"], 3)),
        ("starts_with", [r.choice(["user1", "U", "a", "d"])]),
        ("ends_with", [r.choice(["@example.com", "@shop.test", "0", "s"])]),
        ("contains", [r.choice(["corp", "ro", "ter", "5"])]),
        ("gt", [str(r.randint(18, 60))]),
        ("match", [r.choice(["^user[0-9]+@corp", "^(DE|FR)$", "^ent", "[0-9]{2}$"])]),
    ])
    return {"id": cid, "attribute": attribute, "op": op, "values": values, "negate": r.random() < 0.15}


def distribution(r, variations):
    weights = [r.randint(1, 10) for _ in variations]
    scaled = [w * 100 // sum(weights) for w in weights]
    scaled[0] += 100 - sum(scaled)
    return {"bucketBy": r.choice(["identifier", "identifier", "email", "name"]),
            "variations": [{"variation": v["identifier"], "weight": w} for v, w in zip(variations, scaled)]}


def serve(r, variations, rollout_share):
    if r.random() < rollout_share:
        return {"distribution": distribution(r, variations)}
    return {"variation": r.choice(variations)["identifier"]}


def variations_of(r, kind, n):
    if kind == "boolean":
        return [{"identifier": "true", "name": "On", "value": "true"},
                {"identifier": "false", "name": "Off", "value": "false"}]
    count = r.randint(2, 4)
    out = []
    for v in range(count):
        if kind == "string":
            value = f"variant {v} of flag {n}: " + "x" * r.randint(4, 40)
        elif kind == "int":
            value = str(r.randint(0, 10000))
        else:
            value = json.dumps({"variant": v, "columns": r.randint(1, 4), "express": r.random() < 0.5,
                                "title": f"Layout {v}"}, separators=(",", ":"))
        out.append({"identifier": f"v{v}", "name": f"Variant {v}", "value": value})
    return out


def flag(r, n, env, groups, target_ids):
    kind = r.choice(["boolean", "boolean", "string", "int", "json"])
    variations = variations_of(r, kind, n)
    rules = []
    for p in range(r.randint(0, 4)):
        clauses = []
        if r.random() < 0.5:
            clauses.append({"id": f"f{n}r{p}g", "attribute": "", "op": "segmentMatch",
                            "values": r.sample(groups, r.randint(1, 3)), "negate": False})
        else:
            clauses += [attribute_clause(r, f"f{n}r{p}c{c}") for c in range(r.randint(1, 2))]
        rules.append({"ruleId": f"flag-{n}-rule-{p}", "priority": p + 1, "clauses": clauses,
                      "serve": serve(r, variations, 0.25)})
    target_map = []
    if r.random() < 0.6:
        for v in r.sample(variations, r.randint(1, min(2, len(variations)))):
            target_map.append({"variation": v["identifier"], "targets": [
                {"identifier": t, "name": t.replace("-", " ").title()} for t in r.sample(target_ids, r.randint(1, 8))]})
    prerequisites = []
    if n > 10 and r.random() < 0.1:
        prerequisites.append({"feature": f"flag_{r.randint(0, n - 1):03d}", "variations": ["true", "v0", "v1"]})
    return {
        "feature": f"flag_{n:03d}", "project": "bench", "environment": "production", "kind": kind,
        "state": "on" if r.random() < 0.85 else "off", "version": r.randint(1, 40),
        "variations": variations, "defaultServe": serve(r, variations, 0.4),
        "offVariation": variations[-1]["identifier"], "variationToTargetMap": target_map,
        "rules": rules, "prerequisites": prerequisites,
    }


def group(r, g, target_ids):
    pick = lambda k: [{"identifier": t, "name": t, "account": "", "org": "", "environment": "", "project": ""}
                      for t in r.sample(target_ids, k)]
    return {"identifier": f"group-{g:02d}", "name": f"Group {g}", "environment": "production",
            "version": r.randint(1, 10), "included": pick(r.randint(0, 10)), "excluded": pick(r.randint(0, 3)),
            "rules": [attribute_clause(r, f"g{g}c{c}") for c in range(r.randint(1, 3))], "tags": []}


def main():
    config_dir, env, sdk_key = sys.argv[1], sys.argv[2], sys.argv[3]
    defaults = [200, 20, 100]
    flags, groups, targets = [int(a) for a in sys.argv[4:7]] + defaults[len(sys.argv[4:7]):]
    r = random.Random(15)
    target_list = [target(r, i) for i in range(targets)]
    target_ids = [t["identifier"] for t in target_list]
    group_list = [group(r, g, target_ids) for g in range(groups)]
    group_ids = [g["identifier"] for g in group_list]
    flag_list = [flag(r, n, env, group_ids, target_ids) for n in range(flags)]
    path = os.path.join(config_dir, f"env-{env}")
    os.makedirs(path, exist_ok=True)
    files = {
        "auth_config.json": [hashlib.sha256(sdk_key.encode()).hexdigest()],
        "feature_config.json": flag_list,
        "segments.json": group_list,
        "targets.json": target_list,
    }
    for name, content in files.items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            json.dump(content, f, indent=1)


main()
