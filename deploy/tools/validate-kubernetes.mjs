// Validates every object in the given directories against the Kubernetes schemas (kubernetes-models); kubectl
// cannot validate without a cluster. Exits non-zero and names the object on the first problem.
//
//   node deploy/tools/validate-kubernetes.mjs deploy/kubernetes
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Secret, Service } from "kubernetes-models/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";

const models = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

let count = 0;
for (const directory of process.argv.slice(2)) {
  for (const file of readdirSync(directory).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const document of parseAllDocuments(readFileSync(join(directory, file), "utf8"))) {
      if (document.errors.length > 0) {
        throw new Error(`${file}: ${document.errors[0].message}`);
      }
      const object = document.toJS();
      const Model = models[`${object.apiVersion}/${object.kind}`];
      if (!Model) {
        throw new Error(`${file}: no schema for ${object.apiVersion} ${object.kind}`);
      }
      try {
        new Model(object).validate();
      } catch (error) {
        throw new Error(`${file}: ${object.kind} ${object.metadata?.name}: ${error.message}`);
      }
      count++;
    }
  }
}
console.log(`${count} objects valid`);
