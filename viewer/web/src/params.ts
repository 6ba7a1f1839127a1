// Page parameters (mode, language, district, scenario, token, kiosk idle time) and the field names
// the server uses for each raster choice.

import type { Lang } from "./i18n";
import type { RasterId } from "./ui";

export type Mode = "planner" | "citizen" | "kiosk";

const TOKEN_KEY = "landtwin.token"; // sessionStorage: this tab only

export interface Params {
  mode: Mode;
  lang: Lang;
  district: string;
  scenario: string;
  token: string;
  idleS: number;
  hour: number;
  compare: string;
}

export function readParams(loc: Location = window.location): Params {
  const q = new URLSearchParams(loc.search);
  const mode = (q.get("mode") ?? "planner") as Mode;
  const token = readToken(loc);
  return {
    mode: mode === "citizen" || mode === "kiosk" ? mode : "planner",
    lang: q.get("lang") === "en" ? "en" : "de",
    district: q.get("district") ?? "",
    scenario: q.get("scenario") ?? "",
    token,
    idleS: Math.max(2, Number(q.get("idle") ?? 120)),
    hour: Math.min(23, Math.max(0, Number(q.get("hour") ?? 15))),
    compare: q.get("compare") ?? "",
  };
}

/** Is this the bare start address of the town page (`/` or `/#token=…`: no query at all, not even an
 * empty `?`)? Read it before `readParams`, which tidies the address. */
export function isBareStart(loc: Location = window.location): boolean {
  return !loc.href.split("#")[0].includes("?") && /\/(index\.html)?$/.test(loc.pathname);
}

/** A planner's first screen is the region view (where the server has a region): the bare start address
 * with a planner's token (in the address or kept for the tab) goes there. Every address with a query (a
 * district, a scenario, a saved view, `?mode=…`, even an empty `?`) opens the town twin as before;
 * citizens and kiosks stay. */
export function plannerStart(bare: boolean, p: Params): boolean {
  return bare && p.mode === "planner" && p.token !== "";
}

/** The region view's address for region `name` in language `lang`. */
export function regionAddress(name: string, lang: Lang): string {
  const q = new URLSearchParams();
  if (name !== "burgenlandkreis") q.set("region", name);
  if (lang === "en") q.set("lang", "en");
  return `/region.html${q.toString() ? `?${q.toString()}` : ""}`;
}

/** The access token: from the address (then removed from it and kept for this tab, so that moving between
 * the region view and a town's twin keeps a planner or a paired kiosk signed in), else the tab's kept one. */
export function readToken(loc: Location = window.location): string {
  const q = new URLSearchParams(loc.search);
  const h = new URLSearchParams(loc.hash.replace(/^#/, ""));
  const given = h.get("token") ?? q.get("token");
  if (given !== null) {
    dropTokenFromAddress(loc, q, h);
    try { sessionStorage.setItem(TOKEN_KEY, given); } catch { /* storage disabled: the token lives in this page only */ }
    return given;
  }
  try { return sessionStorage.getItem(TOKEN_KEY) ?? ""; } catch { return ""; }
}


/** Remove the token from the address bar (and the history entry) once it has been read, so that it
 * is not left on screen, in bookmarks or in a shared link. */
function dropTokenFromAddress(loc: Location, q: URLSearchParams, h: URLSearchParams): void {
  q.delete("token");
  h.delete("token");
  const search = q.toString();
  const hash = h.toString();
  const url = `${loc.pathname}${search ? `?${search}` : ""}${hash ? `#${hash}` : ""}`;
  if (typeof history !== "undefined" && loc === window.location) history.replaceState(history.state, "", url);
}

/** The server's field layers (FieldFrame.layer) behind each raster choice. Access has no raster:
 * its deficits arrive as areas (AccessFrame) and show as discs. */
export const FIELD_NAMES: Record<Exclude<RasterId, "none">, string[]> = {
  surface_temp: ["surface_temp_c"],
  air_temp: ["air_temp_c"],
  tmrt: ["tmrt_c"],
  utci: ["utci_c"],
  uhi: ["uhi_k"],
  heat_stress: ["utci_c"],
  access: [],
};

