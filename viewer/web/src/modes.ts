// Modes: the planner gets everything; the citizen views, pins comments and votes; the kiosk runs full
// screen with big targets, a guided start, an attract loop when idle and a reset after inactivity.

import type { App } from "./app";
import type { Interaction } from "./interaction";
import { t } from "./i18n";
import { $, toast } from "./ui";

export class Kiosk {
  idleSince = performance.now();
  attract = false;
  resets = 0;
  private started = false;
  private timer = 0;
  private home: { pos: [number, number, number]; target: [number, number, number] } | null = null;

  constructor(private app: App, private interaction: Interaction) {
    const activity = (): void => this.activity();
    for (const ev of ["pointerdown", "keydown", "wheel", "touchstart"]) window.addEventListener(ev, activity, { capture: true, passive: true });
    window.addEventListener("contextmenu", (e) => e.preventDefault(), { capture: true });
    window.addEventListener("keydown", (e) => {
      // no way out: swallow browser shortcuts that would leave or reload the exhibit
      if (e.ctrlKey || e.altKey || e.metaKey || e.key.startsWith("F") || e.key === "Escape") e.preventDefault();
    }, { capture: true });
    window.addEventListener("beforeunload", (e) => e.preventDefault());
    $("kiosk-go").addEventListener("click", () => this.begin());
    const meta = document.querySelector('meta[name="viewport"]');
    meta?.setAttribute("content", "width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no");
    this.timer = window.setInterval(() => this.check(), 500);
    $("kiosk-start").hidden = false;
  }

  /** Remember the starting view once the district is framed. */
  rememberHome(): void {
    this.idleSince = performance.now();
    this.started = true;
    const v = this.app.view;
    this.home = { pos: v.camera.position.toArray() as [number, number, number], target: v.controls.target.toArray() as [number, number, number] };
  }

  private activity(): void {
    this.idleSince = performance.now();
    if (this.attract) this.stopAttract();
    if (!document.fullscreenElement && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => undefined);
    }
  }

  private begin(): void {
    $("kiosk-start").hidden = true;
    this.interaction.setTool("tree");
  }

  private check(): void {
    if (this.attract || !this.started) return;
    if (performance.now() - this.idleSince >= this.app.params.idleS * 1000) this.reset();
  }

  /** Back to the starting state: tools off, default layers and hour, home view, the sandbox reset. */
  reset(): void {
    this.resets++;
    this.interaction.setTool(null);
    $("comment-dialog").hidden = true;
    $("comment-card").hidden = true;
    this.app.setRaster("utci");
    this.app.setHour(this.app.params.hour);
    ($("hour") as HTMLInputElement).value = String(this.app.params.hour);
    if (this.home) {
      this.app.view.camera.position.fromArray(this.home.pos);
      this.app.view.controls.target.fromArray(this.home.target);
      this.app.view.controls.update();
    }
    this.app.freshSandbox().catch((e: Error) => console.warn("kiosk reset:", e.message));
    this.startAttract();
  }

  private startAttract(): void {
    this.attract = true;
    $("kiosk-attract").hidden = false;
    $("kiosk-start").hidden = true;
    this.app.view.controls.autoRotate = true;
    this.app.view.controls.autoRotateSpeed = 0.6;
    this.app.view.continuous = true;
  }

  private stopAttract(): void {
    this.attract = false;
    $("kiosk-attract").hidden = true;
    $("kiosk-start").hidden = false;
    this.app.view.controls.autoRotate = false;
    this.app.view.continuous = false;
    this.idleSince = performance.now();
  }

  tick(): boolean {
    if (this.attract) this.app.view.controls.update();
    return this.attract;
  }

  dispose(): void {
    clearInterval(this.timer);
  }
}

/** Citizen mode: a short welcome, then only the comment tool. */
export function citizenWelcome(): void {
  toast(t("citizen_welcome"), false, 6000);
}
