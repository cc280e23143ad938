package keys

import "slices"

// KeepReplaced returns next, the keys a reload loaded, with the key
// jwtwatch remembers on its own per family: when next replaces the
// family's current key in inUse (the keys in use until now) without
// configuring a previous key — the procedure's Immediate Rotation, an
// Emergency Rotation, or a rollback of one — the replaced key, as a retired
// key marked Remembered. Tokens it signed, the stale sessions that now get
// a 401, are then recognised as retired, not counted as forgeries. A key
// remembered before is kept until another replaced key takes its place;
// none is added that next configures in the family under any role.
// Remembered keys live in memory only: a restart forgets them, and
// JWT_*_SECRET_RETIRED keeps them. next itself is not changed.
func KeepReplaced(inUse, next Set) Set {
	out := next
	out.Keys = slices.Clone(next.Keys)
	for _, f := range []Family{Access, Refresh} {
		cur, ok := next.Find(f, Current)
		if !ok {
			continue
		}
		var keep *Key
		if i := slices.IndexFunc(inUse.Keys, func(k Key) bool { return k.Family == f && k.Remembered }); i >= 0 {
			keep = &inUse.Keys[i]
		}
		_, dual := next.Find(f, Previous)
		if old, ok := inUse.Find(f, Current); ok && old.Fingerprint != cur.Fingerprint && !dual {
			k := old // the secret or public key, its algorithm and kid
			k.Role, k.Source, k.Remembered = Retired, old.Source+" (replaced; kept in memory)", true
			keep = &k
		}
		if keep == nil || slices.ContainsFunc(next.Keys, func(k Key) bool { return k.Family == f && SameMaterial(k, *keep) }) {
			continue
		}
		out.Keys = append(out.Keys, *keep)
	}
	return out
}
