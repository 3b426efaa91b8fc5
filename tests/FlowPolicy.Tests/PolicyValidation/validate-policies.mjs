// Validates policy documents against the official schemas the npm packages carry (ajv validators generated from the
// Kubernetes OpenAPI and the Cilium / Istio CRDs). Usage: node validate-policies.mjs NODE_MODULES_DIR < documents
// Input: one JSON object per line, {"id": "...", "doc": {...}}. Output: a first line {"versions": {...}}, then one line
// per document: {"id": "...", "errors": ["path message", ...]} (an empty list when the document is valid).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";

const modules = process.argv[2];
if (!modules) {
  console.error("usage: node validate-policies.mjs NODE_MODULES_DIR < documents.jsonl");
  process.exit(2);
}

// apiVersion/kind -> the package file that defines the model (imported by path: the packages' export maps need no
// resolution from this script's directory).
const models = {
  "networking.k8s.io/v1/NetworkPolicy": ["kubernetes-models", "networking.k8s.io/v1/NetworkPolicy.js", "NetworkPolicy"],
  "cilium.io/v2/CiliumNetworkPolicy": ["@kubernetes-models/cilium", "cilium.io/v2/CiliumNetworkPolicy.js", "CiliumNetworkPolicy"],
  "cilium.io/v2/CiliumClusterwideNetworkPolicy": ["@kubernetes-models/cilium", "cilium.io/v2/CiliumClusterwideNetworkPolicy.js", "CiliumClusterwideNetworkPolicy"],
  "security.istio.io/v1/AuthorizationPolicy": ["@kubernetes-models/istio", "security.istio.io/v1/AuthorizationPolicy.js", "AuthorizationPolicy"],
  "networking.istio.io/v1/ServiceEntry": ["@kubernetes-models/istio", "networking.istio.io/v1/ServiceEntry.js", "ServiceEntry"],
};

const versions = {};
for (const pkg of ["kubernetes-models", "@kubernetes-models/cilium", "@kubernetes-models/istio", "@kubernetes-models/validate"]) {
  versions[pkg] = JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}
process.stdout.write(JSON.stringify({ versions }) + "\n");

const loaded = new Map();
async function model(key) {
  if (!loaded.has(key)) {
    const [pkg, file, name] = models[key];
    const module = await import(pathToFileURL(join(modules, pkg, file)).href);
    loaded.set(key, module[name]);
  }
  return loaded.get(key);
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, doc } = JSON.parse(line);
  const key = `${doc.apiVersion}/${doc.kind}`;
  let errors = [];
  if (!models[key]) {
    errors = [`no schema for ${key} (Calico documents are judged by the ported validator)`];
  } else {
    const Model = await model(key);
    try {
      new Model(doc).validate();
    } catch (e) {
      errors = e.errors ? e.errors.map(x => `${x.instancePath || "/"} ${x.message}`) : [String(e.message ?? e)];
    }
  }
  process.stdout.write(JSON.stringify({ id, errors }) + "\n");
}
