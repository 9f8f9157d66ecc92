// The administration screens' routes; only administrators reach them (the API refuses the
// rest anyway, this keeps the screens from half-drawing for others).

import { route } from "../../router.js";
import { isAdministrator } from "./common.js";
import { renderAdminFields } from "./fields.js";
import { renderFormEditor } from "./form.js";
import { renderAdminRoles } from "./roles.js";
import { renderAdminUsers, renderApiKeys } from "./users.js";
import { renderAdminViews, renderEditView, renderNewView } from "./views.js";

function administratorsOnly(render) {
  return (main, params) => {
    if (!isAdministrator()) throw Object.assign(new Error("forbidden"), { status: 403 });
    return render(main, params);
  };
}

route("/admin", administratorsOnly(renderAdminViews));
route("/admin/views", administratorsOnly(renderAdminViews));
route("/admin/views/new", administratorsOnly(renderNewView));
route("/admin/views/:view", administratorsOnly(renderEditView));
route("/admin/views/:view/form", administratorsOnly(renderFormEditor));
route("/admin/fields", administratorsOnly(renderAdminFields));
route("/admin/users", administratorsOnly(renderAdminUsers));
route("/admin/users/:user/api-keys", administratorsOnly(renderApiKeys));
route("/admin/roles", administratorsOnly(renderAdminRoles));

