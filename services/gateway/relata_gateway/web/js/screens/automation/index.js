// The automation screens' routes: the duplicate queue and merging (per view), and the rules,
// buttons, merge rules and generated properties of the whole association.

import { route } from "../../router.js";
import { renderButtonEditor, renderButtons } from "./buttons.js";
import { renderDuplicates } from "./duplicates.js";
import { renderMerge, renderMergeResult, renderPairMerge } from "./merge.js";
import { renderRuleEditor, renderRules } from "./rules.js";
import { renderMergeRules, renderProperties } from "./settings.js";

route("/views/:view/duplicates", renderDuplicates);
route("/views/:view/duplicates/:pair", renderPairMerge);
route("/views/:view/merge/:first/:second", renderMerge);
route("/views/:view/merges/:merge", renderMergeResult);
route("/automation/rules", renderRules);
route("/automation/rules/new", (main) => renderRuleEditor(main, {}));
route("/automation/rules/:rule", renderRuleEditor);
route("/automation/buttons", renderButtons);
route("/automation/buttons/new", renderButtonEditor);
route("/automation/merge-rules", renderMergeRules);
route("/automation/properties", renderProperties);
