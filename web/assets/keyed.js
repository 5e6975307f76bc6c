// One IndexedDB object store whose entries are kept per person under `who` (the
// lowercase name): the private bond's keys (privatebond.js, database `haurach-private`)
// and the book of places (deviceplaces.js, `haurach-places`), each in its own database.
//
// Nothing is opened when this file is imported, and nothing is kept between calls: each
// call opens the database, runs one transaction, and closes it. So the page and a second
// copy of the same modules (a test imports `/assets/privatebond.js` by its plain name,
// while the page loads `/assets/v-VERSION/…`, and the browser keeps the two apart) or a
// second tab share nothing but the database itself, whose read-write transactions on one
// store the browser runs one after another, whichever of them opened them.

/**
 * The object store `store` (key path `who`) of database `db`, version 1, made the first
 * time it is opened. `durability` is that of its read-write transactions ("strict":
 * a write resolves once it is on disk; "default": once the browser chose); `update` may
 * ask for another.
 */
export function keyedStore(db, store, { durability = "default" } = {}) {
  const open = () =>
    new Promise((resolve, reject) => {
      const req = indexedDB.open(db, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(store, { keyPath: "who" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });

  /** Runs `act(objectStore, tx)` in one transaction and resolves, once it has completed,
   *  with what `act` returned: a request's result, or a function's value. */
  async function transact(mode, act, { durability: asked = durability, aborted = null } = {}) {
    const conn = await open();
    try {
      return await new Promise((resolve, reject) => {
        const options = mode === "readwrite" ? { durability: asked } : {};
        const tx = conn.transaction(store, mode, options);
        const out = act(tx.objectStore(store), tx);
        tx.oncomplete = () => resolve(typeof out === "function" ? out() : out?.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error ?? aborted ?? new Error(`the ${db} transaction was aborted`));
      });
    } finally {
      conn.close();
    }
  }

  return {
    /** The entry kept under `key`, or undefined. */
    get: (key) => transact("readonly", (s) => s.get(key)),
    /** Writes `entry` (its `who` is its key). */
    put: (entry) => transact("readwrite", (s) => s.put(entry)),
    /** Forgets the entry under `key`. */
    delete: (key) => transact("readwrite", (s) => s.delete(key)),
    /**
     * Changes the entry under `key` in one read-write transaction: `change(entry)` edits
     * the entry as it is then and returns what to resolve with. Fails with `missing`
     * (an Error) when there is no entry, and changes nothing.
     */
    update: (key, change, { durability: asked = durability, missing } = {}) =>
      transact(
        "readwrite",
        (s, tx) => {
          let result;
          const req = s.get(key);
          req.onsuccess = () => {
            const entry = req.result;
            if (!entry) {
              tx.abort();
              return;
            }
            result = change(entry);
            s.put(entry);
          };
          return () => result;
        },
        { durability: asked, aborted: missing },
      ),
  };
}
