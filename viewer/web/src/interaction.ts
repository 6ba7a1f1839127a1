// Taps, tools and keys: a tap (touch or mouse, no drag) picks what lies under it and feeds the active
// tool; line and area tools show their points while drawing; keyboard works in planner mode.

import * as THREE from "three";
import type { App } from "./app";
import { t } from "./i18n";
import { pickFromHit, type Pick } from "./tiles";
import { MODE_TOOLS, TOOLS, ToolSession, type ToolId } from "./tools";
import { $, renderTools, toast } from "./ui";

const TAP_MAX_PX = 10;
const TAP_MAX_MS = 600;

export class Interaction {
  tool: ToolId | null = null;
  session: ToolSession | null = null;
  private preview = new THREE.Group();
  private commentAt: [number, number, number] | null = null;
  private commentKind: "comment" | "idea" = "comment";
  onActivity: () => void = () => {};

  constructor(private app: App) {
    app.view.content.add(this.preview);
    const canvas = app.view.canvas;
    const downs = new Map<number, { x: number; y: number; t: number }>();
    let multi = false;
    canvas.addEventListener("pointerdown", (e) => {
      downs.set(e.pointerId, { x: e.clientX, y: e.clientY, t: performance.now() });
      if (downs.size > 1) multi = true;
      this.onActivity();
    });
    canvas.addEventListener("pointerup", (e) => {
      const d = downs.get(e.pointerId);
      downs.delete(e.pointerId);
      const wasMulti = multi;
      if (downs.size === 0) multi = false;
      if (!d || wasMulti) return;
      if (Math.hypot(e.clientX - d.x, e.clientY - d.y) > TAP_MAX_PX || performance.now() - d.t > TAP_MAX_MS) return;
      this.tapAt(e.clientX, e.clientY);
    });
    canvas.addEventListener("pointercancel", (e) => downs.delete(e.pointerId));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    $("btn-done").addEventListener("click", () => this.finish());
    $("btn-cancel").addEventListener("click", () => this.setTool(null));
    $("btn-undo").addEventListener("click", () => this.undo());
    $("btn-redo").addEventListener("click", () => this.redo());
    $("comment-send").addEventListener("click", () => void this.sendComment());
    $("comment-cancel").addEventListener("click", () => ($("comment-dialog").hidden = true));
    $("ck-comment").addEventListener("click", () => this.setCommentKind("comment"));
    $("ck-idea").addEventListener("click", () => this.setCommentKind("idea"));
    if (app.params.mode === "planner") this.bindKeys();
  }

  tools(): ToolId[] {
    return MODE_TOOLS[this.app.params.mode];
  }

  renderToolbar(): void {
    renderTools(this.tools(), this.tool, (id) => this.setTool(this.tool === id ? null : id));
    const canUndo = this.app.canEdit;
    ($("btn-undo") as HTMLButtonElement).disabled = !canUndo;
    ($("btn-redo") as HTMLButtonElement).disabled = !canUndo;
  }

  setTool(id: ToolId | null): void {
    if (id && !this.tools().includes(id)) {
      toast(t("not_allowed"), true);
      return;
    }
    this.tool = id;
    this.session = id
      ? new ToolSession(TOOLS[id], (x, y) => this.app.findRoad(x, y), {
          headway_min: Number(($("headway") as HTMLInputElement).value) || 20,
          greenRoofs: this.app.edits.greenRoofs,
          greenRoofIds: this.greenRoofIds(),
        })
      : null;
    const hint = $("tool-hint");
    hint.hidden = !id;
    if (id) {
      $("tool-hint-text").textContent = t(TOOLS[id].hint);
      const collects = TOOLS[id].input === "line" || TOOLS[id].input === "polygon";
      $("btn-done").hidden = !collects;
      $("headway-row").hidden = id !== "bus_line";
    }
    this.drawPreview();
    this.renderToolbar();
  }

  private greenRoofIds(): Map<number, string> {
    const m = new Map<number, string>();
    for (const e of this.app.scenario?.interventions ?? []) {
      if (e.intervention.kind === "green_roof") m.set(e.intervention.building_id ?? -1, e.intervention.id);
    }
    return m;
  }

  /** What lies under a screen point: comments first, then interventions and tiles. */
  pickAt(clientX: number, clientY: number): Pick | null {
    const v = this.app.view;
    const hits = v.raycast(clientX, clientY, [this.app.comments.group, this.app.tiles.group]);
    const hit = hits.find((h) => h.object.visible);
    if (!hit) return null;
    const cid = hit.object.userData.comment_id as number | undefined;
    if (cid !== undefined && !this.tool) {
      this.showComment(cid);
      return null;
    }
    if (cid !== undefined) return null;
    return pickFromHit(hit);
  }

  tapAt(clientX: number, clientY: number): void {
    const p = this.pickAt(clientX, clientY);
    if (!p) return;
    this.app.lastPick = p;
    if (!this.session) return;
    if (this.tool !== "comment" && !this.app.canEdit) {
      toast(t("not_allowed"), true);
      return;
    }
    const r = this.session.tap(p, this.app.tiles.tileset?.origin_z_m ?? 0);
    switch (r.type) {
      case "add":
        this.app.sendEdit(r.intervention);
        if (this.app.params.mode === "kiosk" || TOOLS[this.tool!].input !== "point") this.setTool(this.tool);
        break;
      case "remove":
        this.app.sendRemove(r.object_id);
        break;
      case "comment":
        this.openComment(r.xyz);
        break;
      case "pending":
        this.drawPreview();
        break;
      default:
        break;
    }
  }

  finish(): void {
    if (!this.session) return;
    const iv = this.session.finish();
    if (!iv) return;
    this.app.sendEdit(iv);
    this.setTool(this.tool);
  }

  undo(): void {
    if (this.session && this.session.points.length > 0) {
      this.session.back();
      this.drawPreview();
      return;
    }
    if (this.app.canEdit) this.app.conn?.undo();
  }

  redo(): void {
    if (this.app.canEdit) this.app.conn?.redo();
  }

  private drawPreview(): void {
    this.preview.clear();
    const pts = this.session?.points ?? [];
    const h = (x: number, y: number): number => this.app.tiles.heightAt(x, y) + 2;
    for (const [x, y] of pts) {
      const dot = new THREE.Mesh(new THREE.SphereGeometry(3, 12, 8), new THREE.MeshBasicMaterial({ color: 0xf0a500 }));
      dot.position.set(x, h(x, y), -y);
      this.preview.add(dot);
    }
    if (pts.length > 1) {
      const closed = this.session?.spec.input === "polygon" ? [...pts, pts[0]] : pts;
      const geom = new THREE.BufferGeometry().setFromPoints(closed.map(([x, y]) => new THREE.Vector3(x, h(x, y), -y)));
      this.preview.add(new THREE.Line(geom, new THREE.LineBasicMaterial({ color: 0xf0a500 })));
    }
    this.app.view.invalidate();
  }

  private setCommentKind(k: "comment" | "idea"): void {
    this.commentKind = k;
    $("ck-comment").setAttribute("aria-pressed", String(k === "comment"));
    $("ck-idea").setAttribute("aria-pressed", String(k === "idea"));
  }

  private openComment(xyz: [number, number, number]): void {
    this.commentAt = xyz;
    ($("comment-text") as HTMLTextAreaElement).placeholder = t("comment_placeholder");
    ($("comment-text") as HTMLTextAreaElement).value = "";
    $("comment-dialog").hidden = false;
    ($("comment-text") as HTMLTextAreaElement).focus();
  }

  private async sendComment(): Promise<void> {
    const text = ($("comment-text") as HTMLTextAreaElement).value.trim();
    if (!text || !this.commentAt || !this.app.scenario) return;
    try {
      const c = await this.app.api.addComment(this.app.scenario.scenario_id, {
        scenario_version: this.app.version, xyz_local_m: this.commentAt, kind: this.commentKind, text,
      });
      this.app.comments.upsert(c);
      this.app.view.invalidate();
      $("comment-dialog").hidden = true;
      this.setTool(null);
    } catch (e) {
      toast(String((e as Error).message), true);
    }
  }

  private showComment(id: number): void {
    const c = this.app.comments.comments.get(id);
    if (!c) return;
    const card = $("comment-card");
    card.innerHTML = "";
    const h = document.createElement("h3");
    h.textContent = c.kind === "idea" ? t("comment_kind_idea") : t("comment_kind_comment");
    const p = document.createElement("p");
    p.textContent = c.text;
    const votes = document.createElement("p");
    votes.textContent = `${c.votes} ${t("votes")}`;
    const vote = document.createElement("button");
    vote.className = "btn primary";
    vote.textContent = t("vote");
    vote.addEventListener("click", async () => {
      try {
        const u = await this.app.api.vote(c.comment_id);
        this.app.comments.upsert(u);
        votes.textContent = `${u.votes} ${t("votes")}`;
        vote.disabled = true;
      } catch (e) {
        toast(String((e as Error).message), true);
      }
    });
    const close = document.createElement("button");
    close.className = "btn";
    close.textContent = t("close");
    close.addEventListener("click", () => (card.hidden = true));
    const row = document.createElement("div");
    row.className = "hint-actions";
    row.append(vote, close);
    card.append(h, p, votes, row);
    if (c.answer) {
      const a = document.createElement("p");
      a.textContent = `↳ ${c.answer}`;
      card.insertBefore(a, votes);
    }
    card.hidden = false;
  }

  /** Planner keys: arrows pan (OrbitControls), +/- zoom, Enter taps the screen centre, Esc cancels,
   * Ctrl+Z / Ctrl+Y undo and redo, 1..9 choose tools. */
  private bindKeys(): void {
    const v = this.app.view;
    v.controls.listenToKeyEvents(v.canvas);
    v.controls.keyPanSpeed = 40;
    window.addEventListener("keydown", (e) => {
      const tag = (e.target as HTMLElement).tagName;
      if (tag === "INPUT" || tag === "TEXTAREA") return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) this.redo();
        else this.undo();
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") {
        e.preventDefault();
        this.redo();
      } else if (e.key === "Escape") {
        this.setTool(null);
        $("comment-dialog").hidden = true;
        $("comment-card").hidden = true;
      } else if (e.key === "Enter" && e.target === v.canvas) {
        const r = v.canvas.getBoundingClientRect();
        this.tapAt(r.left + r.width / 2, r.top + r.height / 2);
      } else if ((e.key === "+" || e.key === "-") && e.target === v.canvas) {
        const tg = v.controls.target;
        const off = v.camera.position.clone().sub(tg).multiplyScalar(e.key === "+" ? 0.8 : 1.25);
        v.camera.position.copy(tg).add(off);
        v.controls.update();
      } else if (/^[1-9]$/.test(e.key) && !e.ctrlKey && !e.altKey) {
        const id = this.tools()[Number(e.key) - 1];
        if (id) this.setTool(this.tool === id ? null : id);
      }
    });
  }
}
