package kubeapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files inside the data directory.
const (
	PKIDir         = "pki"
	CACertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	servingCert    = "apiserver.crt"
	servingKey     = "apiserver.key"
	TokenFile      = "token"
	KubeconfigFile = "kubeconfig"
)

// Validity of generated certificates; a serving certificate that expires
// within renewBefore is replaced on start.
const (
	caValidity      = 10 * 365 * 24 * time.Hour
	servingValidity = 365 * 24 * time.Hour
	renewBefore     = 30 * 24 * time.Hour
)

// PKI is the key material of the HTTPS door.
type PKI struct {
	// CACert is the PEM bundle clients trust (the kubeconfig's
	// certificate-authority-data).
	CACert []byte
	// Cert is the serving certificate.
	Cert tls.Certificate
	// Token is the bearer token clients present.
	Token string
}

// PKIConfig says where the key material lives.
type PKIConfig struct {
	// DataDir holds pki/ and the token file (default ".skiff").
	DataDir string
	// Listen is the address the server will listen on; its host is added
	// to the generated serving certificate's names.
	Listen string
	// CertFile and KeyFile, if both set, are the serving certificate and
	// key to use instead of generated ones; CAFile, if set, is the bundle
	// clients should trust (default: CertFile itself).
	CertFile, KeyFile, CAFile string
}

// LoadPKI loads the CA, the serving certificate and the token from the
// data directory, generating on first start whatever is missing (and a new
// serving certificate when the old one expires soon or does not name the
// listen host). It is not safe to call from two processes on one data
// directory at once.
func LoadPKI(cfg PKIConfig) (*PKI, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = ".skiff"
	}
	token, err := loadToken(filepath.Join(cfg.DataDir, TokenFile))
	if err != nil {
		return nil, err
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, errors.New("kubeapi: a serving certificate needs both a cert file and a key file")
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kubeapi: serving certificate: %w", err)
		}
		caFile := cfg.CAFile
		if caFile == "" {
			caFile = cfg.CertFile
		}
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("kubeapi: CA bundle: %w", err)
		}
		return &PKI{CACert: ca, Cert: cert, Token: token}, nil
	}
	dir := filepath.Join(cfg.DataDir, PKIDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kubeapi: pki dir: %w", err)
	}
	caCert, caKey, caPEM, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, err
	}
	cert, err := loadOrCreateServing(dir, caCert, caKey, certHosts(cfg.Listen))
	if err != nil {
		return nil, err
	}
	return &PKI{CACert: caPEM, Cert: cert, Token: token}, nil
}

// certHosts are the names the serving certificate must carry: loopback
// always, and the listen host when it is a specific one.
func certHosts(listen string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	switch host {
	case "", "0.0.0.0", "::":
		if name, err := os.Hostname(); err == nil && name != "" {
			hosts = append(hosts, name)
		}
	default:
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

func loadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("kubeapi: token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("kubeapi: token: %w", err)
	}
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("kubeapi: token: %w", err)
	}
	return token, nil
}

func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, caKeyFile)
	if certPEM, err := os.ReadFile(certPath); err == nil {
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("kubeapi: CA key: %w", err)
		}
		cert, key, err := parsePair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("kubeapi: CA in %s: %w", dir, err)
		}
		return cert, key, certPEM, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("kubeapi: CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "skiff-ca", Organization: []string{"Skiff"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("kubeapi: create CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	certPEM, keyPEM, err := encodePair(der, key)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, nil, err
	}
	return cert, key, certPEM, nil
}

func loadOrCreateServing(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, servingCert), filepath.Join(dir, servingKey)
	certPEM, err1 := os.ReadFile(certPath)
	keyPEM, err2 := os.ReadFile(keyPath)
	if err1 == nil && err2 == nil {
		if cert, _, err := parsePair(certPEM, keyPEM); err == nil && servingOK(cert, ca, hosts) {
			return tls.X509KeyPair(append(certPEM, pemCert(ca.Raw)...), keyPEM)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "skiff-apiserver", Organization: []string{"Skiff"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(servingValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	// The kubernetes Service's names, so in-cluster clients can verify too.
	tmpl.DNSNames = append(tmpl.DNSNames, "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kubeapi: create serving certificate: %w", err)
	}
	certPEM, keyPEM, err = encodePair(der, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(append(certPEM, pemCert(ca.Raw)...), keyPEM)
}

// servingOK reports whether cert is signed by ca, valid for a while yet,
// and names every host.
func servingOK(cert, ca *x509.Certificate, hosts []string) bool {
	if cert.CheckSignatureFrom(ca) != nil || time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodePair(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemCert(der), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Kubeconfig returns a kubeconfig for server (an https:// URL) with the
// PKI's CA and token, whose context "skiff" uses namespace default.
func Kubeconfig(server string, p *PKI) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: skiff
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: skiff-admin
  user:
    token: %s
contexts:
- name: skiff
  context:
    cluster: skiff
    user: skiff-admin
    namespace: default
current-context: skiff
preferences: {}
`, server, base64.StdEncoding.EncodeToString(p.CACert), p.Token)
	return []byte(b.String())
}

// ReadKubeconfig returns the kubeconfig a running server wrote into
// dataDir.
func ReadKubeconfig(dataDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, KubeconfigFile))
	if err != nil {
		return nil, fmt.Errorf("kubeapi: %w (has `skiff up` run with --data-dir %s and a non-empty --api-listen?)", err, dataDir)
	}
	return b, nil
}
