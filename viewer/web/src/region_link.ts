// In the town twin opened from the region view (?from=region): a button back to the Kreis, and at a
// kiosk the way back by itself after the idle time.

export function installRegionLink(idleS: number): void {
  const q = new URLSearchParams(location.search);
  if (q.get("from") !== "region") return;
  const back = new URLSearchParams();
  const mode = q.get("mode");
  if (mode && mode !== "planner") back.set("mode", mode);
  if (q.get("lang") === "en") back.set("lang", "en");
  const href = `/region.html${back.toString() ? `?${back.toString()}` : ""}`;
  const a = document.createElement("a");
  a.id = "back-to-region";
  a.className = "btn";
  // placed over the 3D view (the town page does not load the region stylesheet)
  a.style.cssText = "position:absolute;left:50%;bottom:14px;transform:translateX(-50%);z-index:6;text-decoration:none;"
    + "display:inline-flex;align-items:center;font-weight:bold;box-shadow:0 2px 10px rgba(15,30,50,0.18)";
  a.href = href;
  a.textContent = q.get("lang") === "en" ? "← Back to the Kreis" : "← Zurück zum Kreis";
  a.lang = q.get("lang") === "en" ? "en" : "de";
  document.getElementById("stage")?.append(a);
  if (mode === "kiosk") {
    let last = performance.now();
    for (const ev of ["pointerdown", "keydown", "wheel"]) window.addEventListener(ev, () => (last = performance.now()), { passive: true });
    window.setInterval(() => { if (performance.now() - last > idleS * 1000) location.href = href; }, 1000);
  }
}
