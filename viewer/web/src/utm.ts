// WGS84/ETRS89 lon/lat to UTM (GRS80 ellipsoid), Krüger's series to n^4 (sub-millimetre inside a
// zone), so that GeoJSON from the server (RFC 7946 lon/lat) lands in the district's local frame.

const A = 6378137.0;
const F = 1 / 298.257222101; // GRS80 (ETRS89); WGS84 differs by < 0.1 mm here
const K0 = 0.9996;
const N = F / (2 - F);
const A_HAT = (A / (1 + N)) * (1 + (N * N) / 4 + (N ** 4) / 64);
const ALPHA = [
  N / 2 - (2 / 3) * N ** 2 + (5 / 16) * N ** 3 + (41 / 180) * N ** 4,
  (13 / 48) * N ** 2 - (3 / 5) * N ** 3 + (557 / 1440) * N ** 4,
  (61 / 240) * N ** 3 - (103 / 140) * N ** 4,
  (49561 / 161280) * N ** 4,
];
const E = Math.sqrt(F * (2 - F));

/** UTM zone of an EPSG code: 25801..25860 (ETRS89), 32601..32660 (WGS84 north). */
export function zoneOfEpsg(epsg: number): number {
  if (epsg > 25800 && epsg <= 25860) return epsg - 25800;
  if (epsg > 32600 && epsg <= 32660) return epsg - 32600;
  throw new Error(`not a northern UTM EPSG code: ${epsg}`);
}

/** lon/lat in degrees to UTM easting/northing in metres (northern hemisphere). */
export function lonlatToUtm(lonDeg: number, latDeg: number, zone: number): [number, number] {
  const lon0 = ((zone - 1) * 6 - 180 + 3) * (Math.PI / 180);
  const phi = latDeg * (Math.PI / 180);
  const lam = lonDeg * (Math.PI / 180) - lon0;
  const t = Math.sinh(Math.atanh(Math.sin(phi)) - E * Math.atanh(E * Math.sin(phi)));
  const xi = Math.atan2(t, Math.cos(lam));
  const eta = Math.atanh(Math.sin(lam) / Math.sqrt(1 + t * t));
  let x = eta;
  let y = xi;
  for (let j = 1; j <= 4; j++) {
    const a = ALPHA[j - 1];
    x += a * Math.cos(2 * j * xi) * Math.sinh(2 * j * eta);
    y += a * Math.sin(2 * j * xi) * Math.cosh(2 * j * eta);
  }
  return [500000 + K0 * A_HAT * x, K0 * A_HAT * y];
}

/** A converter from lon/lat to the district's local metres (east, north from its origin). */
export function localFrame(epsg: number, originUtm: [number, number]): (lon: number, lat: number) => [number, number] {
  const zone = zoneOfEpsg(epsg);
  return (lon, lat) => {
    const [e, n] = lonlatToUtm(lon, lat, zone);
    return [e - originUtm[0], n - originUtm[1]];
  };
}
