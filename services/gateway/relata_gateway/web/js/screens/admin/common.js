// What the administration screens share: their texts, the section navigation, and small
// builders for labelled inputs (a label per language) and confirm-then-call buttons.

import { h } from "../../dom.js";
import { addWords, language, t } from "../../i18n.js";
import { current } from "../../router.js";
import { session } from "../../state.js";

addWords({
  nl: {
    adm_menu: "Beheer", adm_title: "Beheer", adm_sections: "Onderdelen van beheer",
    adm_views: "Weergaven", adm_fields: "Eigen velden", adm_users: "Gebruikers", adm_roles: "Rollen",
    adm_new_view: "Nieuwe weergave", adm_edit_view: "Weergave wijzigen", adm_view_name: "Naam van de weergave",
    adm_scope: "Welke relaties de weergave toont (filter)", adm_scope_help: "Een filter in JSON, zoals de API het kent. Kies een voorbeeld of schrijf het zelf.",
    adm_preset: "Voorbeeld", adm_preset_persons: "Alle personen", adm_preset_organisations: "Alle organisaties",
    adm_preset_everyone: "Alle relaties", adm_scope_invalid: "Het filter is geen geldige JSON.",
    adm_lists_count: "{count} lijsten", adm_tabs: "Tabbladen", adm_lists: "Lijsten", adm_tabs_count: "{count} tabbladen", adm_actions: "Acties",
    adm_form: "Relatiekaart", adm_grants: "Toegang", adm_delete: "Verwijderen",
    adm_confirm_delete_view: "Weergave \"{name}\" verwijderen, met haar lijsten en toegang?",
    adm_view_deleted: "Weergave verwijderd.", adm_view_created: "Weergave aangemaakt.",
    adm_form_of: "Relatiekaart van {name}", adm_tab: "Tabblad", adm_tab_name: "Naam van het tabblad",
    adm_label_nl: "Label (Nederlands)", adm_label_en: "Label (Engels)",
    adm_tab_label_nl: "Titel van {name} (Nederlands)", adm_tab_label_en: "Titel van {name} (Engels)",
    adm_field_label_nl: "Label van {name} (Nederlands)", adm_field_label_en: "Label van {name} (Engels)",
    adm_move_up: "{name} omhoog", adm_move_down: "{name} omlaag", adm_hide: "{name} verbergen",
    adm_remove_tab: "Tabblad {name} verwijderen", adm_add_tab: "Tabblad toevoegen",
    adm_new_tab: "Nieuw tabblad", adm_add_field: "Veld of onderdeel toevoegen aan {name}",
    adm_add: "Toevoegen", adm_standard: "Standaardvelden", adm_custom: "Eigen velden",
    adm_sections_group: "Onderdelen (giften, inschrijvingen…)", adm_hidden: "Niet op de kaart",
    adm_drag_hint: "Sleep tabbladen en velden om ze te ordenen, of gebruik de knoppen omhoog en omlaag.",
    adm_moved: "{name} staat nu op plaats {n}.", adm_form_saved: "De relatiekaart is opgeslagen.",
    adm_form_stale: "Iemand anders heeft deze weergave intussen gewijzigd. Laad haar opnieuw.",
    adm_tab_empty: "Tabblad {name} heeft nog geen velden.",
    adm_grants_of: "Toegang tot {name}", adm_user: "Gebruiker", adm_role: "Rol", adm_can_edit: "Mag wijzigen",
    adm_grant: "Toegang geven", adm_revoke: "Intrekken", adm_no_grants: "Nog niemand (beheerders zien elke weergave).",
    adm_granted: "Toegang gegeven.", adm_users_granted: "Gebruikers", adm_roles_granted: "Rollen",
    adm_edit_rights_of: "{name} mag wijzigen", adm_revoke_of: "Toegang van {name} intrekken",
    adm_username: "Gebruikersnaam", adm_display_name: "Naam", adm_password: "Wachtwoord (minstens 10 tekens)",
    adm_active: "Actief", adm_inactive: "Gedeactiveerd", adm_new_user: "Nieuwe gebruiker", adm_create: "Aanmaken",
    adm_user_created: "Gebruiker aangemaakt.", adm_role_of: "Rol van {name}", adm_deactivate: "Deactiveren",
    adm_reactivate: "Weer activeren", adm_reset_password: "Nieuw wachtwoord", adm_api_keys: "API-sleutels",
    adm_new_password_for: "Nieuw wachtwoord voor {name}", adm_password_set: "Wachtwoord ingesteld.",
    adm_user_changed: "Gebruiker gewijzigd.", adm_status: "Status",
    adm_keys_of: "API-sleutels van {name}", adm_key_name: "Naam van de sleutel", adm_scopes: "Bevoegdheden",
    adm_scope_read: "lezen", adm_scope_write: "schrijven", adm_scope_mail: "mail ontvangen", adm_scope_admin: "beheer",
    adm_new_key: "Nieuwe sleutel", adm_key_created: "Sleutel aangemaakt. Bewaar hem nu: hij wordt maar één keer getoond.",
    adm_the_key: "De sleutel", adm_prefix: "Begint met", adm_created: "Aangemaakt", adm_revoked: "Ingetrokken",
    adm_revoke_key: "Sleutel {name} intrekken", adm_confirm_revoke: "Sleutel \"{name}\" intrekken? Hij werkt dan meteen niet meer.",
    adm_no_keys: "Nog geen sleutels.", adm_key_revoked: "Sleutel ingetrokken.",
    adm_role_name: "Code van de rol (kleine letters)", adm_rights: "Rechten", adm_built_in: "ingebouwd",
    adm_users_with: "{count} gebruikers", adm_new_role: "Nieuwe rol", adm_role_saved: "Rol opgeslagen.",
    adm_role_deleted: "Rol verwijderd.", adm_role_taken: "Er is al een rol {name}.", adm_admin_all: "De beheerdersrol heeft altijd alle rechten.",
    adm_right_of: "{right} voor {role}", adm_delete_role: "Rol {name} verwijderen",
    adm_field_key: "Sleutel (vast, kleine letters)", adm_field_label: "Label", adm_field_type: "Soort",
    adm_required: "Verplicht", adm_applies_to: "Geldt voor", adm_both: "personen en organisaties",
    adm_persons: "personen", adm_organisations: "organisaties", adm_choices: "Keuzes (komma's)",
    adm_min: "Minimum", adm_max: "Maximum", adm_max_length: "Maximale lengte", adm_pattern: "Patroon (reguliere expressie)",
    adm_new_field: "Nieuw eigen veld", adm_field_saved: "Veld opgeslagen.", adm_edit_field: "{name} wijzigen",
    adm_one_language: "Dit label heeft één taal: de kaart toont het in elke taal, tenzij een relatiekaart er een eigen label per taal aan geeft.",
    adm_type_text: "tekst", adm_type_number: "getal", adm_type_date: "datum", adm_type_boolean: "ja/nee",
    adm_type_choice: "keuze", adm_type_money: "bedrag",
  },
  en: {
    adm_menu: "Administration", adm_title: "Administration", adm_sections: "Parts of administration",
    adm_views: "Views", adm_fields: "Custom fields", adm_users: "Users", adm_roles: "Roles",
    adm_new_view: "New view", adm_edit_view: "Edit view", adm_view_name: "Name of the view",
    adm_scope: "Which relations the view shows (filter)", adm_scope_help: "A filter in JSON, as the API knows it. Pick an example or write your own.",
    adm_preset: "Example", adm_preset_persons: "All persons", adm_preset_organisations: "All organisations",
    adm_preset_everyone: "All relations", adm_scope_invalid: "The filter is not valid JSON.",
    adm_lists_count: "{count} lists", adm_tabs: "Tabs", adm_lists: "Lists", adm_tabs_count: "{count} tabs", adm_actions: "Actions",
    adm_form: "Relation card", adm_grants: "Access", adm_delete: "Delete",
    adm_confirm_delete_view: "Delete the view \"{name}\" with its lists and access?",
    adm_view_deleted: "View deleted.", adm_view_created: "View created.",
    adm_form_of: "Relation card of {name}", adm_tab: "Tab", adm_tab_name: "Name of the tab",
    adm_label_nl: "Label (Dutch)", adm_label_en: "Label (English)",
    adm_tab_label_nl: "Title of {name} (Dutch)", adm_tab_label_en: "Title of {name} (English)",
    adm_field_label_nl: "Label of {name} (Dutch)", adm_field_label_en: "Label of {name} (English)",
    adm_move_up: "Move {name} up", adm_move_down: "Move {name} down", adm_hide: "Hide {name}",
    adm_remove_tab: "Remove tab {name}", adm_add_tab: "Add a tab",
    adm_new_tab: "New tab", adm_add_field: "Add a field or section to {name}",
    adm_add: "Add", adm_standard: "Standard fields", adm_custom: "Custom fields",
    adm_sections_group: "Sections (donations, registrations…)", adm_hidden: "Not on the card",
    adm_drag_hint: "Drag tabs and fields to order them, or use the up and down buttons.",
    adm_moved: "{name} is now in place {n}.", adm_form_saved: "The relation card was saved.",
    adm_form_stale: "Someone else changed this view meanwhile. Load it again.",
    adm_tab_empty: "Tab {name} has no fields yet.",
    adm_grants_of: "Access to {name}", adm_user: "User", adm_role: "Role", adm_can_edit: "May edit",
    adm_grant: "Grant access", adm_revoke: "Revoke", adm_no_grants: "Nobody yet (administrators see every view).",
    adm_granted: "Access granted.", adm_users_granted: "Users", adm_roles_granted: "Roles",
    adm_edit_rights_of: "{name} may edit", adm_revoke_of: "Revoke access of {name}",
    adm_username: "Username", adm_display_name: "Name", adm_password: "Password (at least 10 characters)",
    adm_active: "Active", adm_inactive: "Deactivated", adm_new_user: "New user", adm_create: "Create",
    adm_user_created: "User created.", adm_role_of: "Role of {name}", adm_deactivate: "Deactivate",
    adm_reactivate: "Reactivate", adm_reset_password: "New password", adm_api_keys: "API keys",
    adm_new_password_for: "New password for {name}", adm_password_set: "Password set.",
    adm_user_changed: "User changed.", adm_status: "Status",
    adm_keys_of: "API keys of {name}", adm_key_name: "Name of the key", adm_scopes: "Scopes",
    adm_scope_read: "read", adm_scope_write: "write", adm_scope_mail: "receive mail", adm_scope_admin: "administration",
    adm_new_key: "New key", adm_key_created: "Key created. Store it now: it is shown only once.",
    adm_the_key: "The key", adm_prefix: "Starts with", adm_created: "Created", adm_revoked: "Revoked",
    adm_revoke_key: "Revoke key {name}", adm_confirm_revoke: "Revoke the key \"{name}\"? It stops working at once.",
    adm_no_keys: "No keys yet.", adm_key_revoked: "Key revoked.",
    adm_role_name: "Code of the role (lower case)", adm_rights: "Rights", adm_built_in: "built in",
    adm_users_with: "{count} users", adm_new_role: "New role", adm_role_saved: "Role saved.",
    adm_role_deleted: "Role deleted.", adm_role_taken: "There is a role {name} already.", adm_admin_all: "The administrator role always has every right.",
    adm_right_of: "{right} for {role}", adm_delete_role: "Delete role {name}",
    adm_field_key: "Key (fixed, lower case)", adm_field_label: "Label", adm_field_type: "Type",
    adm_required: "Required", adm_applies_to: "Applies to", adm_both: "persons and organisations",
    adm_persons: "persons", adm_organisations: "organisations", adm_choices: "Choices (commas)",
    adm_min: "Minimum", adm_max: "Maximum", adm_max_length: "Maximum length", adm_pattern: "Pattern (regular expression)",
    adm_new_field: "New custom field", adm_field_saved: "Field saved.", adm_edit_field: "Edit {name}",
    adm_one_language: "This label has one language: cards show it in every language unless a relation card gives the field a label per language.",
    adm_type_text: "text", adm_type_number: "number", adm_type_date: "date", adm_type_boolean: "yes/no",
    adm_type_choice: "choice", adm_type_money: "amount",
  },
});

export const SCOPES = [
  ["read", "adm_scope_read"],
  ["write", "adm_scope_write"],
  ["mail.ingest", "adm_scope_mail"],
  ["admin", "adm_scope_admin"],
];

export function isAdministrator() {
  return Boolean(session.me && (session.me.rights || []).includes("administration"));
}

/** The page's heading and the links between the parts of administration. */
export function adminHeader(title) {
  const here = current();
  const parts = [
    ["/admin/views", "adm_views"],
    ["/admin/fields", "adm_fields"],
    ["/admin/users", "adm_users"],
    ["/admin/roles", "adm_roles"],
  ];
  return [
    h(
      "nav",
      { class: "adm-nav", "aria-label": t("adm_sections") },
      h(
        "ul",
        {},
        parts.map(([path, key]) =>
          h(
            "li",
            {},
            h("a", { href: `#${path}`, "aria-current": here.startsWith(path) ? "page" : null }, t(key)),
          ),
        ),
      ),
    ),
    h("h1", {}, title),
  ];
}

/** A label in the UI language from a { nl, en } pair (else the fallback). */
export function inLanguage(labels, fallback) {
  return (labels && labels[language()]) || fallback;
}

/** A labelled text input (a label element tied by for/id). */
export function textInput(id, caption, value, extra = {}) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, caption),
    h("input", { id, type: "text", value: value ?? "", ...extra }),
  );
}

/** The error box of a form: cleared, or showing the API's message. */
export function problemBox() {
  return h("div", { role: "alert", class: "adm-problem" });
}
