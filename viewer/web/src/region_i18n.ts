// Texts of the region view in German (default) and English. `rt(key)` falls back to German.

export type RLang = "de" | "en";

const DE = {
  title: "Burgenlandkreis",
  region_view: "Regionsansicht",
  search: "Ort suchen",
  search_placeholder: "Gemeinde, z. B. Zeitz",
  no_match: "Kein Ort gefunden",
  layers: "Ebenen",
  legend: "Legende",
  gemeinden: "Gemeinden",
  indicator: "Kennzahl der Gemeinden",
  grid: "Bevölkerung im Raster",
  grid_off: "aus",
  grid_1km: "1 km",
  grid_100m: "100 m",
  grid_persons: "Einwohner je Zelle",
  grid_80plus: "Menschen über 80 je Zelle",
  stops: "Haltestellen nach Güteklasse",
  stops_estimated: "Klassen aus Verkehrsmitteln geschätzt (kein Fahrplan)",
  hospitals: "Krankenhäuser",
  dept_layers: "Ebenen der Fachbereiche",
  no_dept_layers: "Keine freigegebenen Ebenen",
  under5: "unter 5",
  close: "Schließen",
  kreis: "Kreis",
  key_figures: "Kennzahlen",
  report_pdf: "Bericht (PDF)",
  report_csv: "Kennzahlen (CSV)",
  open_twin: "3D-Zwilling öffnen",
  back_to_region: "Zurück zum Kreis",
  copy_link: "Link zu dieser Ansicht kopieren",
  link_copied: "Link kopiert",
  data_date: "Datenstand",
  source: "Quelle",
  method_note: "Altersgruppen je Gemeinde nach dem Muster des Zensus 2011, auf 2019 hochgerechnet.",
  loading: "Lade Regionsdaten …",
  load_failed: "Regionsdaten konnten nicht geladen werden",
  persons: "Personen",
  kiosk_title: "Entdecken Sie den Burgenlandkreis",
  kiosk_lead: "Tippen Sie auf eine Frage.",
  q_old: "Wo leben Menschen über 80?",
  q_bus: "Wo ist die nächste Bushaltestelle?",
  q_town: "Wie wird die Stadt kühler?",
  a_old: "Je dunkler ein Feld, desto mehr Menschen über 80 leben dort. Tippen Sie auf eine Gemeinde.",
  a_bus: "Tippen Sie auf die Karte: wir zeigen die nächste Haltestelle.",
  a_town: "Öffnen Sie Naumburg in 3D und pflanzen Sie Bäume.",
  nearest_stop: "Nächste Haltestelle",
  distance_air: "Luftlinie",
  start_over: "Von vorn",
  map_label: "Karte des Burgenlandkreises",
  zoom_in: "Vergrößern",
  zoom_out: "Verkleinern",
  class_label: "Klasse",
  capacity: "Bedarf und Kapazität",
  capacity_short: "Kapazität",
  demand: "Bedarf",
  gap: "Saldo",
  service: "Leistung",
  field: "Feld mit Kapazitäten",
  year: "Jahr",
  compare_demand: "Mit Bedarf vergleichen",
};

type Key = keyof typeof DE;

const EN: Record<Key, string> = {
  title: "Burgenlandkreis",
  region_view: "Region view",
  search: "Find a place",
  search_placeholder: "Municipality, e.g. Zeitz",
  no_match: "No place found",
  layers: "Layers",
  legend: "Legend",
  gemeinden: "Municipalities",
  indicator: "Municipal indicator",
  grid: "Population grid",
  grid_off: "off",
  grid_1km: "1 km",
  grid_100m: "100 m",
  grid_persons: "inhabitants per cell",
  grid_80plus: "people over 80 per cell",
  stops: "Stops by service class",
  stops_estimated: "classes estimated from transport modes (no timetable)",
  hospitals: "Hospitals",
  dept_layers: "Department layers",
  no_dept_layers: "No shared layers",
  under5: "under 5",
  close: "Close",
  kreis: "Kreis",
  key_figures: "Key figures",
  report_pdf: "Report (PDF)",
  report_csv: "Key figures (CSV)",
  open_twin: "Open the 3D twin",
  back_to_region: "Back to the Kreis",
  copy_link: "Copy a link to this view",
  link_copied: "Link copied",
  data_date: "Data as of",
  source: "Source",
  method_note: "Age groups per municipality follow the 2011 census pattern, scaled to 2019.",
  loading: "Loading region data …",
  load_failed: "Region data could not be loaded",
  persons: "persons",
  kiosk_title: "Explore the Burgenlandkreis",
  kiosk_lead: "Tap a question.",
  q_old: "Where do people over 80 live?",
  q_bus: "Where is the next bus stop?",
  q_town: "How does the town get cooler?",
  a_old: "The darker a square, the more people over 80 live there. Tap a municipality.",
  a_bus: "Tap the map: we show the nearest stop.",
  a_town: "Open Naumburg in 3D and plant trees.",
  nearest_stop: "Nearest stop",
  distance_air: "as the crow flies",
  start_over: "Start over",
  map_label: "Map of the Burgenlandkreis",
  zoom_in: "Zoom in",
  zoom_out: "Zoom out",
  class_label: "class",
  capacity: "Demand and capacity",
  capacity_short: "capacity",
  demand: "demand",
  gap: "balance",
  service: "Service",
  field: "Field with capacities",
  year: "Year",
  compare_demand: "Compare with demand",
};

let lang: RLang = "de";
export function setRLang(l: RLang): void {
  lang = l;
  document.documentElement.lang = l;
}
export function rlang(): RLang {
  return lang;
}
export function rt(key: Key): string {
  return (lang === "en" ? EN : DE)[key] ?? DE[key];
}
/** A bilingual text from the server ({de, en}). */
export function bi(t: { de: string; en: string } | undefined | null): string {
  return t ? (lang === "en" ? t.en : t.de) : "";
}
export function num(v: number, digits = 0): string {
  return v.toLocaleString(lang === "en" ? "en-GB" : "de-DE", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
