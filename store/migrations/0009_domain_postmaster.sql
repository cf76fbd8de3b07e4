-- congthu store schema, version 9: who receives postmaster@ and abuse@ of a
-- domain (RFC 5321 section 4.5.1, RFC 2142) when no account or alias has
-- that address: the address named by `congthu domain postmaster`, or, when
-- empty (or no longer an enabled account), the domain's first account.
ALTER TABLE domains ADD COLUMN postmaster TEXT NOT NULL DEFAULT '';
