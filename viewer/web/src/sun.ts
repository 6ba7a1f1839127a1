// Sun direction for lighting the scene at the chosen hour. The server sends the heat model's design day
// (date, time zone, sun per local hour) in its Welcome; the scene is lit by exactly that sun, so the
// drawn shadows are the model's. Before the Welcome (or from an older server) an approximation is used.

import type { DesignDay } from "./protocol.gen";

export interface SunPosition {
  azimuthDeg: number; // clockwise from north
  elevationDeg: number;
}

const RAD = Math.PI / 180;

/**
 * Approximate solar position (NOAA low-precision formulas, about 0.5° accurate).
 *
 * @param latDeg, lonDeg  WGS84 position of the district
 * @param dayOfYear       1..366
 * @param hourUtc         decimal hours UTC
 */
export function sunPosition(latDeg: number, lonDeg: number, dayOfYear: number, hourUtc: number): SunPosition {
  const g = ((2 * Math.PI) / 365) * (dayOfYear - 1 + (hourUtc - 12) / 24);
  const eqTimeMin =
    229.18 *
    (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g));
  const decl =
    0.006918 - 0.399912 * Math.cos(g) + 0.070257 * Math.sin(g) - 0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g) - 0.002697 * Math.cos(3 * g) + 0.00148 * Math.sin(3 * g);
  const trueSolarMin = hourUtc * 60 + eqTimeMin + 4 * lonDeg;
  const hourAngle = (trueSolarMin / 4 - 180) * RAD;
  const lat = latDeg * RAD;
  const cosZen = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
  const zen = Math.acos(Math.min(1, Math.max(-1, cosZen)));
  const az = Math.atan2(Math.sin(hourAngle), Math.cos(hourAngle) * Math.sin(lat) - Math.tan(decl) * Math.cos(lat));
  return { azimuthDeg: (az / RAD + 180 + 360) % 360, elevationDeg: 90 - zen / RAD };
}

/** Day of year (1..366) of an ISO date "YYYY-MM-DD". */
export function dayOfYear(isoDate: string): number {
  const d = new Date(`${isoDate}T12:00:00Z`);
  const start = Date.UTC(d.getUTCFullYear(), 0, 1);
  return Math.floor((d.getTime() - start) / 86400000) + 1;
}

/** Offset of Europe/Berlin from UTC in hours on a date (1 in winter, 2 in summer time). */
export function berlinOffsetH(isoDate: string): number {
  const d = new Date(`${isoDate}T12:00:00Z`);
  const y = d.getUTCFullYear();
  const lastSunday = (month: number): number => {
    const last = new Date(Date.UTC(y, month + 1, 0));
    return Date.UTC(y, month, last.getUTCDate() - last.getUTCDay(), 1);
  };
  const t = d.getTime();
  return t >= lastSunday(2) && t < lastSunday(9) ? 2 : 1;
}

/** Unit vector towards the sun in glTF/three axes (x east, y up, z south). */
export function sunDirection(p: SunPosition): [number, number, number] {
  const az = p.azimuthDeg * RAD;
  const el = p.elevationDeg * RAD;
  const east = Math.sin(az) * Math.cos(el);
  const north = Math.cos(az) * Math.cos(el);
  return [east, Math.sin(el), -north];
}

/**
 * The sun at a local clock hour: the heat model's own sun from the server's design day; without one
 * (before the Welcome arrives) the approximation above for that day's date, or today, at ``lonlat``.
 */
export function sunAtHour(
  day: DesignDay | null | undefined,
  hour: number,
  lonlat: [number, number],
  today: Date = new Date(),
): SunPosition {
  const h = Math.max(0, Math.min(23, Math.floor(hour)));
  if (day && day.sun_azimuth_deg.length === 24 && day.sun_elevation_deg.length === 24) {
    return { azimuthDeg: day.sun_azimuth_deg[h], elevationDeg: day.sun_elevation_deg[h] };
  }
  const iso = day?.date ?? today.toISOString().slice(0, 10);
  const offset = day ? day.utc_offset_h : berlinOffsetH(iso);
  return sunPosition(lonlat[1], lonlat[0], dayOfYear(iso), h - offset);
}
