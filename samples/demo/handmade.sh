# What a developer types by hand inside `docker run -it drift-base:bookworm bash`.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y python3 python3-pip
pip install --break-system-packages requests==2.31.0
# requests' default of no timeout hangs the app: patched in place
sed -i 's/^ *return session.request(method=method.*/        kwargs.setdefault("timeout", 30)\n&/' \
  /usr/local/lib/python3.11/dist-packages/requests/api.py
mkdir -p /srv/app
cat > /srv/app/settings.ini <<'INI'
[server]
port = 8080
database = mysql://db.internal/app
INI
echo 'export APP_ENV=production' >> /etc/bash.bashrc
rm -f /etc/issue.net
