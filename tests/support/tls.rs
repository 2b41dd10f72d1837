//! TLS servers for the tests: a CA, a server certificate for 127.0.0.1 and a client
//! certificate, all made by the test with rcgen, and `redis-server`s (standalone and a
//! 3-master cluster with `--tls-cluster yes`) that listen for TLS on a second port.

use std::sync::LazyLock;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

use super::redis::{Options, RedisCluster, RedisServer};

/// PEM texts of one test PKI.
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    /// A CA that signed nothing the servers present.
    pub other_ca: String,
}

/// This binary's PKI, made on first use.
pub fn pki() -> &'static Pki {
    static PKI: LazyLock<Pki> = LazyLock::new(make_pki);
    &PKI
}

fn make_pki() -> Pki {
    let (ca, ca_key) = authority("cachify test CA");
    let (other_ca, _) = authority("some other CA");
    let (server_cert, server_key) = leaf(
        &ca,
        &ca_key,
        vec!["127.0.0.1".into(), "localhost".into()],
        // A cluster node is also the client of its peers' bus ports.
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    );
    let (client_cert, client_key) = leaf(
        &ca,
        &ca_key,
        vec!["client".into()],
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    );
    Pki {
        ca: ca.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
        other_ca: other_ca.pem(),
    }
}

fn authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).expect("a CA certificate"), key)
}

/// A certificate for `names` signed by the CA, and its key, as PEM.
fn leaf(
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
    names: Vec<String>,
    usages: Vec<ExtendedKeyUsagePurpose>,
) -> (String, String) {
    let key = KeyPair::generate().expect("a key");
    let mut params = CertificateParams::new(names).expect("params");
    params.extended_key_usages = usages;
    let cert = params
        .signed_by(&key, ca, ca_key)
        .expect("a signed certificate");
    (cert.pem(), key.serialize_pem())
}

/// A server's TLS options; `clients`: `tls-auth-clients` (`no`, `yes`, `optional`).
pub fn options(clients: &str) -> Options {
    let pki = pki();
    Options {
        tls: true,
        files: vec![
            ("ca.crt".into(), pki.ca.clone().into_bytes()),
            ("server.crt".into(), pki.server_cert.clone().into_bytes()),
            ("server.key".into(), pki.server_key.clone().into_bytes()),
        ],
        args: [
            "--tls-cert-file",
            "{dir}/server.crt",
            "--tls-key-file",
            "{dir}/server.key",
            "--tls-ca-cert-file",
            "{dir}/ca.crt",
            "--tls-auth-clients",
            clients,
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    }
}

/// The TLS server of this binary: clients need no certificate.
pub fn server() -> &'static RedisServer {
    static SERVER: LazyLock<RedisServer> = LazyLock::new(|| RedisServer::start_with(options("no")));
    &SERVER
}

/// The mutual-TLS server of this binary: clients must present a certificate.
pub fn mutual_server() -> &'static RedisServer {
    static SERVER: LazyLock<RedisServer> =
        LazyLock::new(|| RedisServer::start_with(options("yes")));
    &SERVER
}

/// The TLS cluster of this binary: its bus and its client ports speak TLS.
pub fn cluster() -> &'static RedisCluster {
    static CLUSTER: LazyLock<RedisCluster> = LazyLock::new(|| {
        let mut options = options("no");
        options
            .args
            .extend(["--tls-cluster", "yes"].map(String::from));
        RedisCluster::start_with(options)
    });
    &CLUSTER
}
