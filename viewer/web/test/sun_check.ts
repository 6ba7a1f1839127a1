// Run by tests/test_web_sun.py: decodes Welcome frames (one .msgpack file each, in the folder given as
// argument) with the viewer's own code and prints, per frame, the sun the viewer lights the scene with
// at every local hour (sunAtHour, as App.updateSun calls it) and the direction it points the light at.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeServerFrame } from "../src/connection";
import { sunAtHour, sunDirection } from "../src/sun";

const dir = process.argv[2];
const lonlat: [number, number] = [Number(process.argv[3]), Number(process.argv[4])];
const today = new Date(process.argv[5]);
const out: Record<string, unknown> = {};
for (const name of readdirSync(dir).filter((f) => f.endsWith(".msgpack")).sort()) {
  const msg = decodeServerFrame(readFileSync(join(dir, name)));
  if (msg.t !== "welcome") throw new Error(`${name}: not a welcome`);
  const hours = Array.from({ length: 24 }, (_, h) => sunAtHour(msg.design_day, h, lonlat, today));
  out[name] = {
    azimuth: hours.map((s) => s.azimuthDeg),
    elevation: hours.map((s) => s.elevationDeg),
    direction: hours.map((s) => sunDirection(s)),
  };
}
process.stdout.write(JSON.stringify(out));
