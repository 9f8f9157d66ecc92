// What the automation screens share: their texts, the rights that open them, the menu section
// and small building blocks (a value as text, an API error in a box).

import { h } from "../../dom.js";
import { addWords, messageOf, t } from "../../i18n.js";
import { currentView, session } from "../../state.js";

addWords({
  nl: {
    auto_section: "Automatisering", auto_duplicates: "Dubbele relaties", auto_merge_rules: "Samenvoegregels",
    auto_rules: "Regels", auto_buttons: "Knoppen", auto_properties: "Kenmerken",
    auto_duplicates_in: "Dubbele relaties in {view}", auto_no_pairs: "Geen mogelijke dubbelen in deze weergave.",
    auto_stars: "{stars} van 5 sterren", auto_reasons: "Waarom", auto_points: "{points} punten", auto_point: "{points} punt",
    auto_not_duplicate: "Geen dubbele", auto_compare_merge: "Vergelijken en samenvoegen",
    auto_rejected: "Gemarkeerd als geen dubbele.", auto_pair_of: "Mogelijke dubbele: {a} en {b}",
    auto_more: "Meer tonen", auto_min_stars: "Minstens sterren", auto_note: "Opmerking",
    auto_field: "Veld", auto_merge_title: "Samenvoegen", auto_survivor: "Welke relatie blijft bestaan?",
    auto_keeps: "{name} blijft", auto_choose_values: "Kies per verschillend veld de waarde die blijft",
    auto_keep_survivor: "waarde van {name}", auto_keep_both: "beide bewaren", auto_no_differences: "De velden van deze weergave verschillen niet.",
    auto_preview: "Voorbeeld na samenvoegen", auto_merge_now: "Samenvoegen", auto_merged: "Samengevoegd.",
    auto_merge_result: "Samenvoeging", auto_merge_undone: "Deze samenvoeging is ongedaan gemaakt.",
    auto_undo_merge: "Samenvoeging ongedaan maken", auto_undone: "De samenvoeging is ongedaan gemaakt.",
    auto_open_card: "Relatiekaart openen", auto_survivor_is: "Blijft bestaan", auto_merged_is: "Opgegaan in de andere",
    auto_decisions: "Gekozen waarden", auto_side_survivor: "blijvende relatie", auto_side_merged: "samengevoegde relatie", auto_side_both: "beide",
    auto_empty: "—", auto_back_to_queue: "Terug naar dubbele relaties",
    auto_rule_new: "Nieuwe regel", auto_button_new: "Nieuwe knop", auto_rule_edit: "Regel wijzigen",
    auto_rule_name: "Naam", auto_trigger: "Wanneer", auto_trigger_created: "een relatie is aangemaakt",
    auto_trigger_field_changed: "een veld wijzigt", auto_trigger_entered_list: "een relatie in een lijst komt",
    auto_trigger_left_list: "een relatie uit een lijst gaat", auto_trigger_button: "iemand op een knop drukt",
    auto_button_label: "Tekst op de knop", auto_list: "Lijst", auto_condition: "Voorwaarde (optioneel)",
    auto_cond_all: "alle voorwaarden (en)", auto_cond_any: "een van de voorwaarden (of)", auto_cond_match: "Voldoen aan",
    auto_add_field_criterion: "Veldvoorwaarde toevoegen", auto_add_list_criterion: "Lijstvoorwaarde toevoegen",
    auto_in_list: "staat in lijst", auto_remove: "Verwijderen", auto_actions: "Acties", auto_add_action: "Actie toevoegen",
    auto_action: "Actie", auto_act_set_field: "veld invullen", auto_act_clear_field: "veld leegmaken",
    auto_act_log_contact_moment: "contactmoment vastleggen", auto_act_add_to_selection: "aan selectie toevoegen",
    auto_act_remove_from_selection: "uit selectie halen", auto_act_add_function: "functie toevoegen", auto_act_end_function: "functie beëindigen",
    auto_value_hint: "Waarde ({actor} = wie drukt, {today} = vandaag)", auto_selection_id: "Selectie-id",
    auto_function_role: "Functie (code)", auto_organisation_id: "Organisatie-id", auto_enabled: "Actief",
    auto_disabled: "Uit", auto_enable: "Aanzetten", auto_disable: "Uitzetten", auto_rule_saved: "Regel opgeslagen.",
    auto_delete: "Verwijderen", auto_deleted: "Verwijderd.", auto_confirm_delete: "{name} verwijderen?",
    auto_run_log: "Logboek", auto_no_runs: "Deze regel heeft nog niet gedraaid.", auto_refresh: "Vernieuwen",
    auto_when: "Wanneer", auto_relation: "Relatie", auto_status: "Status", auto_changes: "Wijzigingen",
    auto_run_pending: "wacht", auto_run_done: "uitgevoerd", auto_run_skipped: "overgeslagen", auto_run_failed: "mislukt",
    auto_run_now: "Nu uitvoeren", auto_run_for: "Uitvoeren voor een relatie", auto_run_view: "In weergave",
    auto_find_relation: "Zoek een relatie", auto_run_done_msg: "Uitgevoerd: {changes}", auto_run_not_placed: "Nu uitvoeren kan voor een knop die een weergave op de kaart zet.",
    auto_no_rules: "Nog geen regels.", auto_no_buttons: "Nog geen knoppen.", auto_placement: "Plaats op de relatiekaart",
    auto_place_on: "{tab} in {view}", auto_placement_saved: "Plaatsing opgeslagen.", auto_save_placement: "Plaatsing opslaan",
    auto_button_done: "{label}: uitgevoerd.", auto_button_skipped: "{label}: niet uitgevoerd ({message}).",
    auto_button_failed: "{label}: mislukt ({message}).", auto_card_buttons: "Knoppen",
    auto_merge_rule_new: "Nieuwe samenvoegregel", auto_match_fields: "Moeten gelijk zijn",
    auto_mf_first_name: "voornaam", auto_mf_initials: "voorletters", auto_mf_last_name: "achternaam", auto_mf_birth_date: "geboortedatum",
    auto_mf_email: "e-mailadres", auto_mf_phone: "telefoonnummer", auto_mf_address: "adres", auto_mf_organisation_name: "organisatienaam",
    auto_mf_coc_number: "KvK-nummer", auto_mf_iban: "IBAN", auto_default_keep: "Bij verschil bewaren",
    auto_keep_newest: "nieuwste", auto_keep_oldest: "oudste", auto_keep_non_empty: "ingevulde", auto_keep_existing: "bestaande", auto_keep_new: "nieuwe",
    auto_sources: "Alleen van bronnen (komma's, bijv. module:events)", auto_lists_any: "Zoek in lijsten (leeg: overal)",
    auto_no_merge_rules: "Nog geen samenvoegregels.", auto_position: "Volgorde", auto_add: "Toevoegen",
    auto_property_key: "Sleutel (bijv. actief_lid)", auto_property_label: "Naam op de kaart", auto_property_list: "Zolang in lijst",
    auto_property_defined: "Kenmerk vastgelegd: {count} relaties hebben het nu.", auto_no_properties: "Nog geen kenmerken.",
    auto_define: "Vastleggen", auto_merge_undo_hint: "Ongedaan maken kan zolang de blijvende relatie niet is gewijzigd.",
    auto_hidden_change: "een wijziging buiten deze weergave", auto_search: "Zoeken", auto_merge_with: "Samenvoegen met een andere relatie", auto_merge_with_name: "Samenvoegen met {name}", auto_no_changes: "niets gewijzigd",
  },
  en: {
    auto_section: "Automation", auto_duplicates: "Duplicate relations", auto_merge_rules: "Merge rules",
    auto_rules: "Rules", auto_buttons: "Buttons", auto_properties: "Properties",
    auto_duplicates_in: "Duplicate relations in {view}", auto_no_pairs: "No possible duplicates in this view.",
    auto_stars: "{stars} of 5 stars", auto_reasons: "Why", auto_points: "{points} points", auto_point: "{points} point",
    auto_not_duplicate: "Not a duplicate", auto_compare_merge: "Compare and merge",
    auto_rejected: "Marked as not a duplicate.", auto_pair_of: "Possible duplicate: {a} and {b}",
    auto_more: "Show more", auto_min_stars: "At least stars", auto_note: "Note",
    auto_field: "Field", auto_merge_title: "Merge", auto_survivor: "Which relation stays?",
    auto_keeps: "{name} stays", auto_choose_values: "Choose per differing field the value that stays",
    auto_keep_survivor: "value of {name}", auto_keep_both: "keep both", auto_no_differences: "The fields of this view do not differ.",
    auto_preview: "Preview after merging", auto_merge_now: "Merge", auto_merged: "Merged.",
    auto_merge_result: "Merge", auto_merge_undone: "This merge has been undone.",
    auto_undo_merge: "Undo merge", auto_undone: "The merge has been undone.",
    auto_open_card: "Open the card", auto_survivor_is: "Stays", auto_merged_is: "Merged into the other",
    auto_decisions: "Chosen values", auto_side_survivor: "remaining relation", auto_side_merged: "merged relation", auto_side_both: "both",
    auto_empty: "—", auto_back_to_queue: "Back to duplicate relations",
    auto_rule_new: "New rule", auto_button_new: "New button", auto_rule_edit: "Edit rule",
    auto_rule_name: "Name", auto_trigger: "When", auto_trigger_created: "a relation is created",
    auto_trigger_field_changed: "a field changes", auto_trigger_entered_list: "a relation enters a list",
    auto_trigger_left_list: "a relation leaves a list", auto_trigger_button: "someone presses a button",
    auto_button_label: "Text on the button", auto_list: "List", auto_condition: "Condition (optional)",
    auto_cond_all: "all conditions (and)", auto_cond_any: "any condition (or)", auto_cond_match: "Match",
    auto_add_field_criterion: "Add a field condition", auto_add_list_criterion: "Add a list condition",
    auto_in_list: "is in list", auto_remove: "Remove", auto_actions: "Actions", auto_add_action: "Add an action",
    auto_action: "Action", auto_act_set_field: "fill in a field", auto_act_clear_field: "clear a field",
    auto_act_log_contact_moment: "log a contact moment", auto_act_add_to_selection: "add to a selection",
    auto_act_remove_from_selection: "remove from a selection", auto_act_add_function: "add a function", auto_act_end_function: "end a function",
    auto_value_hint: "Value ({actor} = who presses, {today} = today)", auto_selection_id: "Selection id",
    auto_function_role: "Function (code)", auto_organisation_id: "Organisation id", auto_enabled: "Enabled",
    auto_disabled: "Off", auto_enable: "Enable", auto_disable: "Disable", auto_rule_saved: "Rule saved.",
    auto_delete: "Delete", auto_deleted: "Deleted.", auto_confirm_delete: "Delete {name}?",
    auto_run_log: "Run log", auto_no_runs: "This rule has not run yet.", auto_refresh: "Refresh",
    auto_when: "When", auto_relation: "Relation", auto_status: "Status", auto_changes: "Changes",
    auto_run_pending: "pending", auto_run_done: "done", auto_run_skipped: "skipped", auto_run_failed: "failed",
    auto_run_now: "Run now", auto_run_for: "Run for a relation", auto_run_view: "In view",
    auto_find_relation: "Find a relation", auto_run_done_msg: "Done: {changes}", auto_run_not_placed: "Run now works for a button a view places on the card.",
    auto_no_rules: "No rules yet.", auto_no_buttons: "No buttons yet.", auto_placement: "Place on the relation card",
    auto_place_on: "{tab} in {view}", auto_placement_saved: "Placement saved.", auto_save_placement: "Save placement",
    auto_button_done: "{label}: done.", auto_button_skipped: "{label}: not run ({message}).",
    auto_button_failed: "{label}: failed ({message}).", auto_card_buttons: "Buttons",
    auto_merge_rule_new: "New merge rule", auto_match_fields: "Must be equal",
    auto_mf_first_name: "first name", auto_mf_initials: "initials", auto_mf_last_name: "last name", auto_mf_birth_date: "birth date",
    auto_mf_email: "e-mail address", auto_mf_phone: "phone number", auto_mf_address: "address", auto_mf_organisation_name: "organisation name",
    auto_mf_coc_number: "CoC number", auto_mf_iban: "IBAN", auto_default_keep: "When values differ keep",
    auto_keep_newest: "newest", auto_keep_oldest: "oldest", auto_keep_non_empty: "filled in", auto_keep_existing: "existing", auto_keep_new: "new",
    auto_sources: "Only from sources (commas, e.g. module:events)", auto_lists_any: "Look in lists (empty: everywhere)",
    auto_no_merge_rules: "No merge rules yet.", auto_position: "Order", auto_add: "Add",
    auto_property_key: "Key (e.g. active_member)", auto_property_label: "Name on the card", auto_property_list: "While in list",
    auto_property_defined: "Property defined: {count} relations hold it now.", auto_no_properties: "No properties yet.",
    auto_define: "Define", auto_merge_undo_hint: "Undoing is possible while the remaining relation is unchanged.",
    auto_hidden_change: "a change outside this view", auto_search: "Search", auto_merge_with: "Merge with another relation", auto_merge_with_name: "Merge with {name}", auto_no_changes: "nothing changed",
  },
});

export const RIGHTS = {
  review: "duplicates.review",
  merge: "relations.merge",
  manage: "automation.manage",
  run: "buttons.run",
  administration: "administration",
};

export function can(right) {
  return Boolean(session.me && session.me.rights.includes(right));
}

/** The menu's automation entries this user may open (none: no section at all). */
export function automationMenu(link) {
  const view = currentView();
  const entries = [
    can(RIGHTS.review) && view ? link(`/views/${view.view_id}/duplicates`, t("auto_duplicates")) : null,
    can(RIGHTS.manage) ? link("/automation/rules", t("auto_rules")) : null,
    can(RIGHTS.manage) ? link("/automation/buttons", t("auto_buttons")) : null,
    can(RIGHTS.manage) ? link("/automation/merge-rules", t("auto_merge_rules")) : null,
    can(RIGHTS.manage) ? link("/automation/properties", t("auto_properties")) : null,
  ].filter(Boolean);
  if (!entries.length) return null;
  return [
    h("h2", { id: "menu-automation" }, t("auto_section")),
    h("ul", { "aria-labelledby": "menu-automation" }, entries.map((entry) => h("li", {}, entry))),
  ];
}

/** A field value as one line of text (lists of addresses, phones and e-mails included). */
export function asText(value) {
  if (value === null || value === undefined || value === "") return t("auto_empty");
  if (Array.isArray(value)) return value.length ? value.map(asText).join("; ") : t("auto_empty");
  if (typeof value === "object") {
    const parts = Object.entries(value).filter(([key, v]) => key !== "type" && v !== null && v !== "");
    return parts.map(([, v]) => asText(v)).join(" ") || t("auto_empty");
  }
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  return String(value);
}

/** An API error as the screens show it. */
export function problem(error) {
  return h("p", { class: "error", role: "alert" }, messageOf(error));
}

/** Every relation list the user's views offer, by id (for triggers, conditions, properties). */
export function knownLists() {
  const lists = new Map();
  for (const view of session.views) {
    for (const list of view.lists) {
      const name = list.name === "All relations" ? `${t("all_relations")} (${view.name})` : list.name;
      if (!lists.has(list.list_id)) lists.set(list.list_id, name);
    }
  }
  return lists;
}

export function requireRight(right) {
  if (!can(right)) throw Object.assign(new Error("forbidden"), { status: 403 });
}
