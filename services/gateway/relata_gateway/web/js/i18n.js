// Dutch and English texts. The language is the user's choice (kept in this browser), else
// the browser's own when it is Dutch, else English. A missing text shows its key, which makes
// it easy to spot.

const LANGUAGE_KEY = "relata.language";

const nl = {
  skip_to_content: "Naar de inhoud", language: "Taal", log_out: "Uitloggen", menu: "Menu",
  log_in: "Inloggen", username: "Gebruikersnaam", password: "Wachtwoord",
  login_failed: "Onbekende gebruikersnaam of verkeerd wachtwoord.",
  loading: "Bezig met laden…", error_title: "Dat lukte niet",
  not_found: "Dit bestaat niet, of deze weergave toont het niet.",
  forbidden: "Dat mag u in deze weergave niet.",
  unavailable: "Een onderdeel van Relata antwoordt nu niet. Probeer het zo opnieuw.",
  dashboard: "Dashboard", relations: "Relaties", all_relations: "Alle relaties",
  new_filter: "Nieuw filter", selections: "Selecties", view: "Weergave",
  no_views: "U hebt nog geen weergave. Vraag de functioneel beheerder om toegang.",
  search_placeholder: "Zoek op naam, e-mail, postcode, relatienummer…",
  search_in: "Zoeken in {view}", no_results: "Niets gevonden",
  recently_viewed: "Laatst bekeken", recently_edited: "Recent gewijzigd door anderen",
  nothing_yet: "Nog niets.", the_relation_itself: "de relatie zelf",
  list: "lijst", relation: "relatie", person: "persoon", organisation: "organisatie",
  name: "Naam", relation_number: "Relatienummer", type: "Soort",
  count_relations: "{count} relaties", previous: "Vorige", next: "Volgende", page_n: "Pagina {n}",
  too_large: "Deze lijst is te groot om door te bladeren. Verfijn hem met een filter.",
  filter_this: "Filteren", list_updated: "De lijst is bijgewerkt.",
  make_selection: "Selectie maken", selection_name: "Naam van de selectie",
  selection_made: "Selectie gemaakt met {count} relaties.",
  filter_builder: "Filter samenstellen", relations_that: "Relaties die voldoen aan",
  group: "Groep", match: "Voldoen aan", all_of: "alle voorwaarden (en)", any_of: "een van de voorwaarden (of)",
  not: "niet", add_criterion: "Voorwaarde toevoegen", add_group: "Groep toevoegen",
  remove_group: "Groep verwijderen", remove_criterion: "Voorwaarde verwijderen",
  kind_field: "Veld", kind_function: "Functie", kind_contact: "Contactmoment",
  kind_donations: "Donaties", kind_registration: "Inschrijving", kind_in_list: "In lijst",
  field: "Veld", operator: "Vergelijking", value: "Waarde", values_commas: "Waarden (komma's)",
  from: "Van", to: "Tot", amount: "Aantal", unit: "Eenheid",
  days: "dagen", weeks: "weken", months: "maanden", years: "jaren",
  yes: "ja", no: "nee", role: "Rol", any_role: "elke rol", at_list: "Bij een relatie in",
  anywhere: "maakt niet uit", active_now: "nu actief", contact_kinds: "Soorten contact",
  direction: "Richting", either: "beide", incoming: "inkomend", outgoing: "uitgaand",
  within_last: "in de afgelopen", total_at_least: "Totaal minstens (€)", min_count: "Minstens keer",
  event_code: "Evenementcode", criteria: "Voorwaarden", result: "Resultaat",
  add_a_criterion: "Voeg een voorwaarde toe.", filter_incomplete: "Het filter is nog niet compleet:",
  list_name: "Naam van de lijst", save_as_list: "Opslaan als lijst", list_saved: "Lijst opgeslagen.",
  read_only_view: "In deze weergave mag u alleen kijken.",
  op_equals: "is", op_not_equals: "is niet", op_contains: "bevat", op_starts_with: "begint met",
  op_in: "is een van", op_empty: "is leeg", op_not_empty: "is niet leeg", op_lt: "kleiner dan",
  op_gt: "groter dan", op_between: "tussen", op_within_last: "in de afgelopen",
  op_more_than_ago: "langer geleden dan", op_less_than_ago: "korter geleden dan",
  card_tabs: "Tabbladen van de relatiekaart", switch_view: "Andere weergave",
  read_only: "alleen lezen", edit: "Wijzigen", save: "Opslaan", cancel: "Annuleren",
  saved: "Opgeslagen.", leave_edit: "Uw wijzigingen zijn niet opgeslagen. Toch verdergaan?",
  conflict_title: "Niet opgeslagen:",
  conflict_text: "een collega heeft deze relatie gewijzigd nadat u haar opende. Uw wijziging staat nog op het scherm; laad de nieuwste versie en voer haar opnieuw in.",
  load_latest: "Nieuwste versie laden", invalid: "Niet geldig:",
  changed_while_editing: "Deze relatie is zojuist door iemand anders gewijzigd. Opslaan lukt pas na het laden van de nieuwste versie.",
  card_updated: "De kaart is bijgewerkt met een wijziging van een collega.",
  colleague_editing: "{names} wijzigt deze relatie nu ook.",
  left_view: "Deze relatie staat niet meer in deze weergave.",
  parts_unavailable: "Niet alles kon worden geladen ({parts}); probeer het zo opnieuw.",
  kept_in_module: "Dit staat in de eigen module.", in_no_lists: "In geen lijst van deze weergave.",
  no_properties: "Geen kenmerken.", not_available: "Nu niet beschikbaar.",
  no_donations: "Nog geen giften.", donations_count: "giften", first_gift: "Eerste gift", last_gift: "Laatste gift",
  no_registrations: "Geen inschrijvingen.", registration_registered: "ingeschreven",
  registration_attended: "aanwezig geweest", registration_cancelled: "afgemeld",
  at: "bij", not_in_view: "een relatie buiten deze weergave", no_functions: "Geen functies.",
  log_moment: "Contactmoment vastleggen", moment_logged: "Contactmoment vastgelegd.",
  kind: "Soort", when: "Wanneer", subject: "Onderwerp", notes: "Notities", who: "Wie", what: "Wat",
  no_moments: "Nog geen contactmomenten.", older: "Oudere", no_history: "Geen wijzigingen.",
  created: "Aangemaakt", actor_user: "een gebruiker", actor_relation: "de relatie zelf",
  actor_module: "een module", actor_system: "het systeem",
  moment_phone: "telefoon", moment_email: "e-mail", moment_visit: "bezoek", moment_letter: "brief",
  moment_meeting: "overleg", moment_other: "anders",
  selections_intro: "Een selectie bevriest wie er nu in een lijst staat, bijvoorbeeld voor een mailing. Maak er een vanuit een lijst.",
  from_list: "Uit lijst", members: "Leden", refreshed: "Bijgewerkt", no_selections: "Nog geen selecties.",
  refresh: "Verversen", refresh_result: "{added} toegevoegd, {removed} verwijderd.",
  added: "Toegevoegd", removed: "Verwijderd", nobody: "Niemand.",
  not_shown: "{count} relaties staan niet meer in deze weergave en worden niet getoond.",
  refreshes: "Eerdere verversingen", never_refreshed: "Nog nooit ververst.",
  export_csv: "Exporteren", columns: "Kolommen", download_csv: "CSV downloaden",
  remove: "Verwijderen", add: "Toevoegen",
  home: "thuis", work: "werk", postal: "post", visiting: "bezoek", billing: "factuur", other: "anders",
  mobile: "mobiel", fax: "fax", private: "privé",
  female: "vrouw", male: "man", non_binary: "non-binair", unknown: "onbekend",
};

const en = {
  skip_to_content: "Skip to content", language: "Language", log_out: "Log out", menu: "Menu",
  log_in: "Log in", username: "Username", password: "Password",
  login_failed: "Unknown username or wrong password.",
  loading: "Loading…", error_title: "That did not work",
  not_found: "This does not exist, or this view does not show it.",
  forbidden: "You may not do that in this view.",
  unavailable: "A part of Relata does not answer right now. Try again in a moment.",
  dashboard: "Dashboard", relations: "Relations", all_relations: "All relations",
  new_filter: "New filter", selections: "Selections", view: "View",
  no_views: "You have no view yet. Ask the functional administrator for access.",
  search_placeholder: "Search by name, e-mail, postal code, relation number…",
  search_in: "Search in {view}", no_results: "Nothing found",
  recently_viewed: "Recently viewed", recently_edited: "Recently edited by others",
  nothing_yet: "Nothing yet.", the_relation_itself: "the relation itself",
  list: "list", relation: "relation", person: "person", organisation: "organisation",
  name: "Name", relation_number: "Relation number", type: "Type",
  count_relations: "{count} relations", previous: "Previous", next: "Next", page_n: "Page {n}",
  too_large: "This list is too large to browse. Narrow it with a filter.",
  filter_this: "Filter", list_updated: "The list was updated.",
  make_selection: "Make a selection", selection_name: "Name of the selection",
  selection_made: "Selection made with {count} relations.",
  filter_builder: "Filter builder", relations_that: "Relations that match",
  group: "Group", match: "Match", all_of: "all conditions (and)", any_of: "any condition (or)",
  not: "not", add_criterion: "Add a condition", add_group: "Add a group",
  remove_group: "Remove group", remove_criterion: "Remove condition",
  kind_field: "Field", kind_function: "Function", kind_contact: "Contact moment",
  kind_donations: "Donations", kind_registration: "Registration", kind_in_list: "In list",
  field: "Field", operator: "Comparison", value: "Value", values_commas: "Values (commas)",
  from: "From", to: "To", amount: "Amount", unit: "Unit",
  days: "days", weeks: "weeks", months: "months", years: "years",
  yes: "yes", no: "no", role: "Role", any_role: "any role", at_list: "At a relation in",
  anywhere: "anywhere", active_now: "active now", contact_kinds: "Kinds of contact",
  direction: "Direction", either: "either", incoming: "incoming", outgoing: "outgoing",
  within_last: "within the last", total_at_least: "Total at least (€)", min_count: "At least times",
  event_code: "Event code", criteria: "Conditions", result: "Result",
  add_a_criterion: "Add a condition.", filter_incomplete: "The filter is not complete yet:",
  list_name: "Name of the list", save_as_list: "Save as list", list_saved: "List saved.",
  read_only_view: "This view is read-only for you.",
  op_equals: "is", op_not_equals: "is not", op_contains: "contains", op_starts_with: "starts with",
  op_in: "is one of", op_empty: "is empty", op_not_empty: "is not empty", op_lt: "less than",
  op_gt: "greater than", op_between: "between", op_within_last: "within the last",
  op_more_than_ago: "more than … ago", op_less_than_ago: "less than … ago",
  card_tabs: "Tabs of the relation card", switch_view: "Other view",
  read_only: "read-only", edit: "Edit", save: "Save", cancel: "Cancel",
  saved: "Saved.", leave_edit: "Your changes are not saved. Go on anyway?",
  conflict_title: "Not saved:",
  conflict_text: "a colleague changed this relation after you opened it. Your change is still on screen; load the latest version and enter it again.",
  load_latest: "Load the latest version", invalid: "Not valid:",
  changed_while_editing: "Someone else just changed this relation. Saving will work only after loading the latest version.",
  card_updated: "The card was updated with a colleague's change.",
  colleague_editing: "{names} is editing this relation too.",
  left_view: "This relation is no longer in this view.",
  parts_unavailable: "Not everything could be loaded ({parts}); try again in a moment.",
  kept_in_module: "This is kept in its own module.", in_no_lists: "In no list of this view.",
  no_properties: "No properties.", not_available: "Not available now.",
  no_donations: "No donations yet.", donations_count: "donations", first_gift: "First gift", last_gift: "Last gift",
  no_registrations: "No registrations.", registration_registered: "registered",
  registration_attended: "attended", registration_cancelled: "cancelled",
  at: "at", not_in_view: "a relation outside this view", no_functions: "No functions.",
  log_moment: "Log a contact moment", moment_logged: "Contact moment logged.",
  kind: "Kind", when: "When", subject: "Subject", notes: "Notes", who: "Who", what: "What",
  no_moments: "No contact moments yet.", older: "Older", no_history: "No changes.",
  created: "Created", actor_user: "a user", actor_relation: "the relation itself",
  actor_module: "a module", actor_system: "the system",
  moment_phone: "phone", moment_email: "e-mail", moment_visit: "visit", moment_letter: "letter",
  moment_meeting: "meeting", moment_other: "other",
  selections_intro: "A selection freezes who is in a list now, for a mailing for instance. Make one from a list.",
  from_list: "From list", members: "Members", refreshed: "Refreshed", no_selections: "No selections yet.",
  refresh: "Refresh", refresh_result: "{added} added, {removed} removed.",
  added: "Added", removed: "Removed", nobody: "Nobody.",
  not_shown: "{count} relations are no longer in this view and are not shown.",
  refreshes: "Earlier refreshes", never_refreshed: "Never refreshed.",
  export_csv: "Export", columns: "Columns", download_csv: "Download CSV",
  remove: "Remove", add: "Add",
  home: "home", work: "work", postal: "postal", visiting: "visiting", billing: "billing", other: "other",
  mobile: "mobile", fax: "fax", private: "private",
  female: "female", male: "male", non_binary: "non-binary", unknown: "unknown",
};

// Field and section names, as the card, the filter builder and the feed name them.
const fields = {
  nl: {
    relation_number: "Relatienummer", first_name: "Voornaam", initials: "Voorletters",
    infix: "Tussenvoegsel", last_name: "Achternaam", salutation: "Aanhef", gender: "Geslacht",
    birth_date: "Geboortedatum", organisation_name: "Organisatienaam", coc_number: "KvK-nummer",
    iban: "IBAN", addresses: "Adressen", phones: "Telefoonnummers", emails: "E-mailadressen",
    functions: "Functies", contact_moments: "Contactmomenten", lists: "Lijsten",
    history: "Geschiedenis", donations: "Donaties", registrations: "Inschrijvingen",
    properties: "Kenmerken",
    relation_type: "Soort relatie", relation_id: "Relatie-id", street: "Straat",
    house_number: "Huisnummer", postal_code: "Postcode", city: "Plaats", country: "Land",
    email: "E-mailadres", phone: "Telefoonnummer", number: "Nummer", address: "Adres",
    created_at: "Aangemaakt", updated_at: "Laatst gewijzigd", name: "Naam",
  },
  en: {
    relation_number: "Relation number", first_name: "First name", initials: "Initials",
    infix: "Infix", last_name: "Last name", salutation: "Salutation", gender: "Gender",
    birth_date: "Birth date", organisation_name: "Organisation name", coc_number: "CoC number",
    iban: "IBAN", addresses: "Addresses", phones: "Phone numbers", emails: "E-mail addresses",
    functions: "Functions", contact_moments: "Contact moments", lists: "Lists",
    history: "History", donations: "Donations", registrations: "Registrations",
    properties: "Properties",
    relation_type: "Relation type", relation_id: "Relation id", street: "Street",
    house_number: "House number", postal_code: "Postal code", city: "City", country: "Country",
    email: "E-mail address", phone: "Phone number", number: "Number", address: "Address",
    created_at: "Created", updated_at: "Last changed", name: "Name",
  },
};

const dictionaries = { nl, en };

export function language() {
  const chosen = localStorage.getItem(LANGUAGE_KEY);
  if (chosen === "nl" || chosen === "en") return chosen;
  return (navigator.language || "").toLowerCase().startsWith("nl") ? "nl" : "en";
}

export function setLanguage(code) {
  localStorage.setItem(LANGUAGE_KEY, code);
  applyLanguage();
}

/**
 * Add a screen family's texts: `addWords({ nl: {...}, en: {...} })`, called at the top of the
 * screen's module, so each family keeps its words beside its code. A key defined twice is a
 * mistake that would make one screen say another's words: it throws.
 */
export function addWords(words) {
  for (const [code, entries] of Object.entries(words)) {
    for (const [key, text] of Object.entries(entries)) {
      if (key in dictionaries[code]) throw new Error(`the text "${key}" is defined twice`);
      dictionaries[code][key] = text;
    }
  }
}

/** A text in the current language, with {name} placeholders filled in. */
export function t(key, params = {}) {
  const text = dictionaries[language()][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** A field's label; custom fields use the catalogue's label when given, else their key. */
export function fieldLabel(name, catalogueLabel) {
  const known = fields[language()][name];
  if (known) return known;
  if (catalogueLabel) return catalogueLabel;
  return name.startsWith("custom.") ? name.slice(7).replace(/_/g, " ") : name;
}

/** The static texts of index.html and the page's language attribute. */
export function applyLanguage() {
  document.documentElement.lang = language();
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
}

/** A message for an API error, in the user's language. */
export function messageOf(error) {
  if (error && error.status === 404) return t("not_found");
  if (error && error.status === 403) return t("forbidden");
  if (error && error.status === 503) return t("unavailable");
  return (error && error.message) || String(error);
}
