//! Tenant scoping of database work. Every transaction is opened here, with
//! the tenants the row-level security policies let it see set in the same
//! round trip as `BEGIN`:
//!
//! - [`TenantTx`]: exactly one tenant. What capabilities use: a request
//!   handler gets one from its `InTenant` (`ctx.begin(&pool)`), a job from the
//!   tenant its payload names. Store functions take `&mut TenantTx` and read
//!   the tenant from it, so they cannot be called for "no tenant" or be handed
//!   the wrong one separately.
//! - [`ScopedTx`]: several or all tenants, for platform administration and
//!   system work. Seeing every tenant takes an [`AllTenants`] proof, which
//!   only a principal whose role sees all tenants
//!   (`Principal::all_tenants`) or a named system path
//!   ([`AllTenants::system`]) can produce.
//!
//! Store functions still filter by tenant explicitly; RLS is the second lock.
//!
//! A request whose effects must commit together with something the request
//! layer writes (an `Idempotency-Key`'s stored answer) runs its handler
//! inside [`RequestTx::scope`]: every read-committed transaction the handler
//! opens is then that one transaction, lent out. A lent transaction's
//! `commit` hands it back, and dropping it (an error) rolls back to where it
//! was lent; the layer commits once, after the handler answered.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction};

platform::typed_id! {
    /// The id of a tenant (customer organisation).
    pub struct TenantId;
}

/// The tenant with this slug (the `tenants` table is global: no scope applies).
pub async fn tenant_by_slug<'e>(
    db: impl PgExecutor<'e>,
    slug: &str,
) -> Result<Option<TenantId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: TenantId" FROM tenants WHERE slug = $1"#,
        slug
    )
    .fetch_optional(db)
    .await
}

/// A tenant's slug (sign-in checks it against what an issuer may assert).
pub async fn tenant_slug<'e>(
    db: impl PgExecutor<'e>,
    id: TenantId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT slug FROM tenants WHERE id = $1", id.0)
        .fetch_optional(db)
        .await
}

/// Which tenants' rows a transaction may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Platform-wide work: platform admins, authentication look-ups, system jobs.
    All,
    /// Exactly these tenants (possibly none).
    Tenants(Vec<TenantId>),
}

impl Visibility {
    pub fn one(t: TenantId) -> Visibility {
        Visibility::Tenants(vec![t])
    }

    pub fn includes(&self, t: TenantId) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Tenants(ts) => ts.contains(&t),
        }
    }

    /// The tenant ids, or `None` for all.
    pub fn ids(&self) -> Option<Vec<uuid::Uuid>> {
        match self {
            Visibility::All => None,
            Visibility::Tenants(ts) => Some(ts.iter().map(|t| t.0).collect()),
        }
    }

    fn settings(&self) -> (&'static str, String) {
        match self {
            Visibility::All => ("on", String::new()),
            Visibility::Tenants(ts) => (
                "off",
                ts.iter()
                    .map(|t| t.0.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }
}

/// Proof that the holder may see every tenant's rows.
#[derive(Debug, Clone, Copy)]
pub struct AllTenants(());

impl AllTenants {
    /// For system paths that act for no tenant in particular: authentication
    /// look-ups, the audit verifier, the event relay, operators' commands on
    /// the machine itself. Request handlers get theirs from the principal.
    pub fn system() -> AllTenants {
        AllTenants(())
    }

    pub(crate) fn for_staff() -> AllTenants {
        AllTenants(())
    }
}

/// How a transaction sees concurrent commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    ReadCommitted,
    /// One snapshot for every statement: a consistent read of several tables.
    RepeatableReadOnly,
}

/// Begin a transaction that sees only `vis`. The scope is set in the same
/// round trip as `BEGIN` (a simple-query batch): this runs on every request.
async fn begin(pool: &PgPool, vis: &Visibility, isolation: Isolation) -> Result<Conn, sqlx::Error> {
    let (all, ids) = vis.settings();
    // Only fixed keywords, "on"/"off" and UUIDs rendered by the uuid crate
    // reach these strings.
    let scope = format!(
        "SELECT set_config('p360.all_tenants', '{all}', true), \
         set_config('p360.tenant_ids', '{ids}', true)"
    );
    if isolation == Isolation::ReadCommitted
        && let Some(lent) = RequestTx::lend(&scope).await
    {
        return lent;
    }
    let mode = match isolation {
        Isolation::ReadCommitted => "",
        Isolation::RepeatableReadOnly => " ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    let tx = pool
        .begin_with(sqlx::AssertSqlSafe(format!("BEGIN{mode}; {scope}")))
        .await?;
    Ok(Conn {
        tx: Some(tx),
        lender: None,
    })
}

tokio::task_local! {
    static REQUEST_TX: RequestTx;
}

/// A request's one transaction, lent to the handler it runs (see the module
/// documentation). Cloning shares it.
#[derive(Clone)]
pub struct RequestTx(Arc<Mutex<Lending>>);

enum Lending {
    /// With the layer: free to lend. `dirty` when a borrower dropped it
    /// without committing, so its work since the lend is rolled back first.
    Held {
        tx: Transaction<'static, Postgres>,
        dirty: bool,
    },
    /// Lent to a borrower that has not handed it back yet.
    Out,
    /// The layer took it back for good; late returns are rolled back.
    Closed,
}

/// The savepoint a lend starts at: a borrower's error rolls back to it.
const LENT_AT: &str = "SAVEPOINT p360_lent";

impl std::fmt::Debug for RequestTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestTx")
    }
}

impl RequestTx {
    pub fn new(tx: Transaction<'static, Postgres>) -> RequestTx {
        RequestTx(Arc::new(Mutex::new(Lending::Held { tx, dirty: false })))
    }

    /// Run `work` (a handler) with its transactions opened in this one.
    pub async fn scope<F: std::future::Future>(&self, work: F) -> F::Output {
        REQUEST_TX.scope(self.clone(), work).await
    }

    /// Take the transaction back once the handler answered, with its last
    /// borrower's unfinished work rolled back; `None` when a borrower never
    /// handed it back (it kept it past the handler, or lending failed).
    pub async fn finish(&self) -> Option<Transaction<'static, Postgres>> {
        let (mut tx, dirty) = match std::mem::replace(&mut *self.lock(), Lending::Closed) {
            Lending::Held { tx, dirty } => (tx, dirty),
            Lending::Out | Lending::Closed => return None,
        };
        if dirty {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT p360_lent")
                .execute(&mut *tx)
                .await
                .ok()?;
        }
        Some(tx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lending> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The request's transaction, scoped by `scope` and with a savepoint at
    /// the lend, if this task runs in a request that has one free.
    async fn lend(scope: &str) -> Option<Result<Conn, sqlx::Error>> {
        let lender = REQUEST_TX.try_with(Clone::clone).ok()?;
        let (mut tx, dirty) = {
            let mut slot = lender.lock();
            match std::mem::replace(&mut *slot, Lending::Out) {
                Lending::Held { tx, dirty } => (tx, dirty),
                // Already lent (two at once) or closed: a transaction of its own.
                other => {
                    *slot = other;
                    return None;
                }
            }
        };
        let undo = if dirty {
            "ROLLBACK TO SAVEPOINT p360_lent; "
        } else {
            ""
        };
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("{undo}{LENT_AT}; {scope}")))
            .execute(&mut *tx)
            .await;
        Some(match result {
            Ok(_) => Ok(Conn {
                tx: Some(tx),
                lender: Some(lender),
            }),
            // The transaction is unusable: it is rolled back, and the
            // layer finds nothing to commit.
            Err(e) => Err(e),
        })
    }

    fn give_back(&self, tx: Transaction<'static, Postgres>, dirty: bool) {
        let mut slot = self.lock();
        if matches!(*slot, Lending::Out) {
            *slot = Lending::Held { tx, dirty };
        }
        // Closed: dropping `tx` rolls it back.
    }
}

/// An open transaction, or a lent one, which goes back to its lender when
/// committed or dropped.
struct Conn {
    /// Always `Some` until `commit` consumes it.
    tx: Option<Transaction<'static, Postgres>>,
    lender: Option<RequestTx>,
}

impl Conn {
    async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        match self.lender.take() {
            Some(lender) => {
                lender.give_back(tx, false);
                Ok(())
            }
            None => tx.commit().await,
        }
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.tx
            .as_deref_mut()
            .expect("a transaction is open until committed")
    }

    fn conn_ref(&self) -> &PgConnection {
        self.tx
            .as_deref()
            .expect("a transaction is open until committed")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let (Some(tx), Some(lender)) = (self.tx.take(), self.lender.take()) {
            lender.give_back(tx, true);
        }
    }
}

/// Either kind of scoped transaction, for code that only needs to run
/// statements and commit (e.g. announcing a change to every instance).
pub trait ScopedTransaction: DerefMut<Target = PgConnection> + Send {
    fn commit(self) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

impl ScopedTransaction for TenantTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        TenantTx::commit(self).await
    }
}

impl ScopedTransaction for ScopedTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        ScopedTx::commit(self).await
    }
}

/// A transaction that sees exactly one tenant.
pub struct TenantTx {
    tx: Conn,
    tenant: TenantId,
}

impl TenantTx {
    /// Begin acting in `tenant`. Request handlers use `InTenant::begin`;
    /// this is for jobs and event consumers acting on the tenant their input
    /// names.
    pub async fn begin(pool: &PgPool, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let tx = begin(pool, &Visibility::one(tenant), Isolation::ReadCommitted).await?;
        Ok(TenantTx { tx, tenant })
    }

    /// A read-only transaction on one snapshot (REPEATABLE READ): several
    /// reads that must agree with each other, e.g. everything a sync pushes.
    pub async fn begin_snapshot(pool: &PgPool, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let tx = begin(
            pool,
            &Visibility::one(tenant),
            Isolation::RepeatableReadOnly,
        )
        .await?;
        Ok(TenantTx { tx, tenant })
    }

    /// The tenant this transaction acts in.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        self.tx.conn()
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// End a read-only transaction without waiting for it: dropping it queues
    /// a ROLLBACK that sqlx sends together with the connection's next
    /// statement, so reads cost one round trip less than with a COMMIT.
    pub fn end_read(self) {
        drop(self);
    }

    /// Act in another tenant within the same transaction (the event relay,
    /// which handles events of many tenants in one transaction).
    pub(crate) async fn rescope(&mut self, tenant: TenantId) -> Result<(), sqlx::Error> {
        if tenant == self.tenant {
            return Ok(());
        }
        sqlx::query!(
            r#"SELECT set_config('p360.all_tenants', 'off', true) AS "all",
                      set_config('p360.tenant_ids', $1, true) AS "ids""#,
            tenant.0.to_string()
        )
        .fetch_one(self.tx.conn())
        .await?;
        self.tenant = tenant;
        Ok(())
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.tx.conn_ref()
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.tx.conn()
    }
}

/// A transaction that sees several tenants, or all of them.
pub struct ScopedTx {
    tx: Conn,
    visibility: Visibility,
}

impl ScopedTx {
    /// Every tenant.
    pub async fn all(pool: &PgPool, _: AllTenants) -> Result<ScopedTx, sqlx::Error> {
        ScopedTx::begin(pool, Visibility::All).await
    }

    /// What a principal may see (`Principal::visibility`).
    pub(crate) async fn begin(
        pool: &PgPool,
        visibility: Visibility,
    ) -> Result<ScopedTx, sqlx::Error> {
        let tx = begin(pool, &visibility, Isolation::ReadCommitted).await?;
        Ok(ScopedTx { tx, visibility })
    }

    pub fn visibility(&self) -> &Visibility {
        &self.visibility
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        self.tx.conn()
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Narrow the transaction to one tenant (the event relay).
    pub(crate) async fn into_tenant(self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let mut t = TenantTx {
            tx: self.tx,
            tenant: TenantId(uuid::Uuid::nil()),
        };
        t.rescope(tenant).await?;
        Ok(t)
    }
}

impl Deref for ScopedTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.tx.conn_ref()
    }
}

impl DerefMut for ScopedTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.tx.conn()
    }
}
