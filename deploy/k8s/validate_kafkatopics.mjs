// Validate Strimzi KafkaTopic resources offline against the schema Strimzi publishes, as
// compiled by @kubernetes-models/strimzi-kafka-operator (npm; tools.sh installs it).
//   node deploy/k8s/validate_kafkatopics.mjs NODE_PREFIX < topics.json   (a JSON array)
// Prints one line per resource; exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const prefix = process.argv[2];
const versions = {};
for (const version of ["v1beta2"]) {
  const file = `${prefix}/node_modules/@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/${version}/KafkaTopic.js`;
  versions[`kafka.strimzi.io/${version}`] = (await import(pathToFileURL(file).href)).KafkaTopic;
}
let failed = 0;
for (const doc of JSON.parse(readFileSync(0, "utf8"))) {
  const name = `KafkaTopic ${doc.metadata?.namespace}/${doc.metadata?.name}`;
  const Model = versions[doc.apiVersion];
  if (!Model) {
    console.log(`${name}: unsupported apiVersion ${doc.apiVersion}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`${name}: valid`);
  } catch (error) {
    console.log(`${name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
