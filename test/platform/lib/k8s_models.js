#!/usr/bin/env node
// Validates Kubernetes, Argo CD and KEDA objects with the kubernetes-models packages.
//
//   node k8s_models.js <request.json>     (run with NODE_PATH pointing at the npm cache)
//
// request.json: {
//   "documents": [{"id", "apiVersion", "kind", "object"}],   whole objects
//   "partials":  [{"id", "apiVersion", "kind", "object"}]    fragments (every field optional)
// }
// Prints {"results": [{"id", "errors": [...]}]} on stdout: one entry per document and partial.
//
// Two passes:
//  1. runtime validation of each document with the model's validate() (the packages' compiled
//     JSON schemas: required fields, types, enums, formats);
//  2. a TypeScript compile of every object as a literal of the model's interface. The models'
//     JSON schemas leave objects open, the TypeScript interfaces do not: tsc's excess-property
//     check reports a misspelt or misplaced field at any depth. Partials are checked the same
//     way against DeepPartial<Interface>, which is how a patch's target path and value type are
//     checked without rendering anything.
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");

// apiVersion -> the module that holds the model of a kind.
function modelModule(apiVersion, kind) {
  if (apiVersion === "argoproj.io/v1alpha1") return `@kubernetes-models/argo-cd/${apiVersion}/${kind}`;
  if (apiVersion === "keda.sh/v1alpha1") return `@kubernetes-models/keda/${apiVersion}/${kind}`;
  if (apiVersion === "v1") return `kubernetes-models/v1/${kind}`;
  const group = apiVersion.split("/")[0];
  // Kubernetes' own API groups: apps, batch, policy, ... and *.k8s.io.
  if (apiVersion.includes("/") && (!group.includes(".") || group.endsWith(".k8s.io"))) {
    return `kubernetes-models/${apiVersion}/${kind}`;
  }
  return null;
}

function loadModel(apiVersion, kind) {
  const mod = modelModule(apiVersion, kind);
  if (!mod) return { error: `no model package covers ${apiVersion} ${kind}` };
  try {
    const exported = require(mod)[kind];
    if (!exported) return { error: `${mod} does not export ${kind}` };
    return { mod, Model: exported };
  } catch (e) {
    return { error: `no model for ${apiVersion} ${kind} (${mod}): ${e.code || e.message}` };
  }
}

// Pretty JSON that remembers which line holds which field, so tsc errors map back to a path.
function jsonWithLines(value) {
  const lines = [];
  const pathAt = [];
  function emit(text, p) {
    lines.push(text);
    pathAt.push(p);
  }
  function walk(v, p, pad, prefix, suffix) {
    if (Array.isArray(v)) {
      if (v.length === 0) return emit(`${pad}${prefix}[]${suffix}`, p);
      emit(`${pad}${prefix}[`, p);
      v.forEach((x, i) => walk(x, `${p}[${i}]`, pad + "  ", "", i < v.length - 1 ? "," : ""));
      return emit(`${pad}]${suffix}`, p);
    }
    if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      if (keys.length === 0) return emit(`${pad}${prefix}{}${suffix}`, p);
      emit(`${pad}${prefix}{`, p);
      keys.forEach((k, i) => {
        const child = p ? `${p}.${k}` : k;
        walk(v[k], child, pad + "  ", `${JSON.stringify(k)}: `, i < keys.length - 1 ? "," : "");
      });
      return emit(`${pad}}${suffix}`, p);
    }
    return emit(`${pad}${prefix}${JSON.stringify(v)}${suffix}`, p);
  }
  walk(value, "", "", "", "");
  return { text: lines.join("\n"), pathAt };
}

function runtimeErrors(Model, object) {
  try {
    new Model(object).validate();
    return [];
  } catch (e) {
    return String(e.message || e).split("\n").filter((l) => l.trim()).map((l) => l.trim());
  }
}

function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const results = new Map();
  const add = (id, msg) => results.get(id).push(msg);

  const header = [
    "type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[]",
    "  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;",
  ];
  const body = [];
  const imports = new Map(); // module -> alias
  const spans = []; // {id, from, to, pathAt}
  let line = 0; // lines of `body` so far

  const entries = [
    ...(request.documents || []).map((d) => ({ ...d, partial: false })),
    ...(request.partials || []).map((d) => ({ ...d, partial: true })),
  ];
  for (const e of entries) {
    results.set(e.id, []);
    const model = loadModel(e.apiVersion, e.kind);
    if (model.error) {
      add(e.id, model.error);
      continue;
    }
    if (!e.partial) {
      for (const msg of runtimeErrors(model.Model, e.object)) add(e.id, `schema: ${msg}`);
    }
    if (!imports.has(model.mod)) imports.set(model.mod, `M${imports.size}`);
    const alias = imports.get(model.mod);
    const type = e.partial ? `DeepPartial<${alias}.I${e.kind}>` : `${alias}.I${e.kind}`;
    const decl = `const v${spans.length}: ${type} = `;
    const json = jsonWithLines(e.object);
    const jsonLines = json.text.split("\n");
    jsonLines[0] = decl + jsonLines[0];
    jsonLines[jsonLines.length - 1] += ";";
    spans.push({ id: e.id, from: line, to: line + jsonLines.length - 1, pathAt: json.pathAt });
    body.push(...jsonLines);
    line += jsonLines.length;
  }

  if (spans.length > 0) {
    const importLines = [...imports].map(([mod, alias]) => `import type * as ${alias} from ${JSON.stringify(mod)};`);
    const prologue = [...importLines, ...header];
    // Inside the npm cache, so that tsc resolves the packages from its node_modules.
    const dir = fs.mkdtempSync(path.join(process.env.JSS_TSC_WORKDIR || os.tmpdir(), "tsc-"));
    try {
      fs.writeFileSync(path.join(dir, "check.ts"), [...prologue, ...body, ""].join("\n"));
      fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, skipLibCheck: true, types: [], noUnusedLocals: false,
          moduleResolution: "node", module: "commonjs", target: "es2020", typeRoots: [],
        },
        files: ["check.ts"],
      }));
      let out = "";
      try {
        execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", dir, "--pretty", "false"],
          { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      } catch (err) {
        out = `${err.stdout || ""}${err.stderr || ""}`;
        if (!out.trim()) out = `check.ts(1,1): error TS0: tsc failed: ${err.message}`;
      }
      const offset = prologue.length;
      let current = null;
      for (const raw of out.split("\n")) {
        const m = /^(?:.*[\\/])?check\.ts\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(raw);
        if (m) {
          const bodyLine = Number(m[1]) - 1 - offset;
          const span = spans.find((s) => bodyLine >= s.from && bodyLine <= s.to);
          const field = span ? span.pathAt[bodyLine - span.from] : "";
          // Drop tsc's dump of the whole target type after "does not exist in type".
          const msg = m[4].replace(/ in type '.*$/, "").replace(/ to type '.{120,}$/, " to the field's type");
          current = { id: span ? span.id : null, text: `${m[3]} at ${field || "<root>"}: ${msg}` };
          if (current.id) add(current.id, `strict: ${current.text.slice(0, 400)}`);
          else add(spans[0].id, `strict (outside any object): ${current.text.slice(0, 400)}`);
        } else if (raw.trim() && !current) {
          add(spans[0].id, `tsc: ${raw.trim().slice(0, 400)}`);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  process.stdout.write(JSON.stringify({
    results: [...results].map(([id, errors]) => ({ id, errors })),
  }));
}

main();
