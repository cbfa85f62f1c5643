-- This transaction is an import's: the triggers of migration 0008 leave the fingerprints it
-- writes alone (until the transaction ends).
SELECT set_config('user_import.fingerprints', 'kept', true)
