#!/usr/bin/env bash
# Deploys cloudtrim on Azure: azuredeploy.json at subscription scope, then the Go custom handler
# (built for linux/amd64) to the Flex Consumption app, then the Event Grid subscriptions that can
# only be made once the code runs.
#
# usage: infra/azure/deploy.sh --location REGION [--parameters FILE] [--name DEPLOYMENT] [--what-if]
#
#   --location    region of the deployment and of every resource (required; also CLOUDTRIM_AZURE_LOCATION)
#   --parameters  deployment parameters file (default infra/azure/parameters.json, made from parameters.example.json)
#   --name        name of the subscription-scope deployment (default cloudtrim)
#   --what-if     show what the template would change (az deployment sub what-if) and stop
#
# Needs az 2.60 or later, logged in (az login; az account set --subscription ...), and go. The
# caller must be able to create resource groups, custom roles and role assignments in the
# current subscription and assign roles in every collected subscription (Owner, or Contributor
# with User Access Administrator). It never prompts: a missing value is an error.
set -euo pipefail
exec </dev/null

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# The function folders packaged beside host.json (the tests compare this list with the folders).
functions=(collect optimize ingest approve actuate)

location="${CLOUDTRIM_AZURE_LOCATION:-}"
params="$here/parameters.json"
name="cloudtrim"
whatif=false

usage() { sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//'; }
die() {
	echo "deploy.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case "$1" in
	--location)
		location="${2:?--location needs a region}"
		shift 2
		;;
	--parameters)
		params="${2:?--parameters needs a file}"
		shift 2
		;;
	--name)
		name="${2:?--name needs a deployment name}"
		shift 2
		;;
	--what-if)
		whatif=true
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		die "unknown argument $1"
		;;
	esac
done

[ -n "$location" ] || die "--location is required (a region with Flex Consumption: az functionapp list-flexconsumption-locations)"
[ -f "$params" ] || die "no parameters file $params: copy parameters.example.json and fill it in"
if grep -q 'REPLACE-ME' "$params"; then
	die "$params still holds REPLACE-ME placeholders"
fi
command -v az >/dev/null || die "az (Azure CLI) is not installed"
az_version="$(az version --query '"azure-cli"' -o tsv)"
if [ "$(printf '%s\n' 2.60.0 "$az_version" | sort -V | head -n 1)" != 2.60.0 ]; then
	die "az $az_version is too old: Flex Consumption needs 2.60 or later"
fi
account="$(az account show --query '[name, id]' -o tsv 2>/dev/null | paste -sd ' ')" ||
	die "az is not logged in: run az login, then az account set --subscription <id>"
[ -n "$account" ] || die "az is not logged in: run az login, then az account set --subscription <id>"

template="$here/azuredeploy.json"
deploy_args=(
	--name "$name"
	--location "$location"
	--template-file "$template"
	--parameters "@$params"
	--parameters "location=$location"
	--no-prompt true
	--only-show-errors
)

if $whatif; then
	echo "what-if of $template in subscription $account"
	az deployment sub what-if "${deploy_args[@]}"
	exit 0
fi

command -v go >/dev/null || die "go is not installed"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/package"
mkdir -p "$pkg"
cp "$here/host.json" "$pkg/"
for f in "${functions[@]}"; do
	mkdir -p "$pkg/$f"
	cp "$here/$f/function.json" "$pkg/$f/"
done
echo "building cloudtrim-azure for linux/amd64"
(cd "$repo" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -tags azurefunc -trimpath -ldflags='-s -w' -o "$pkg/cloudtrim-azure" ./functions/azure)
(cd "$repo" && go run ./tools/zipdir "$pkg" "$stage/cloudtrim-azure.zip")

echo "deploying $template in subscription $account (deployment $name, $location)"
az deployment sub create "${deploy_args[@]}" --output none

rg="$(az deployment sub show --name "$name" --query properties.outputs.resourceGroupName.value -o tsv)"
app="$(az deployment sub show --name "$name" --query properties.outputs.functionAppName.value -o tsv)"
topic="$(az deployment sub show --name "$name" --query properties.outputs.systemTopicName.value -o tsv)"
lake_container="$(az deployment sub show --name "$name" --query properties.outputs.lakeContainer.value -o tsv)"
exports_container="$(az deployment sub show --name "$name" --query properties.outputs.exportsContainer.value -o tsv)"
approve_url="$(az deployment sub show --name "$name" --query properties.outputs.approveUrl.value -o tsv)"
apply="$(az deployment sub show --name "$name" --query properties.outputs.apply.value -o tsv)"

# In a dry run the identity must not be able to change anything. The template assigns the
# actuator's role only when apply is true, but an incremental deployment never deletes, so an
# assignment left from an earlier apply=true is removed here.
case "$apply" in
true | True) ;;
*)
	principal="$(az deployment sub show --name "$name" --query properties.outputs.identityPrincipalId.value -o tsv)"
	role="$(az deployment sub show --name "$name" --query properties.outputs.actuatorRoleDefinitionId.value -o tsv)"
	subs="$(az deployment sub show --name "$name" --query 'properties.outputs.subscriptions.value[]' -o tsv)"
	for sub in $subs; do
		ids="$(az role assignment list --scope "/subscriptions/$sub" --role "${role##*/}" \
			--fill-principal-name false --fill-role-definition-name false \
			--query "[?principalId=='$principal'].id" -o tsv)"
		for id in $ids; do
			echo "dry run: removing the actuator's role assignment in subscription $sub"
			az role assignment delete --ids "$id" --only-show-errors
		done
	done
	;;
esac

echo "publishing the package to $app"
az functionapp deployment source config-zip --resource-group "$rg" --name "$app" \
	--src "$stage/cloudtrim-azure.zip" --only-show-errors --output none

# The blob extension's webhook needs its system key, which the host creates when it first
# starts with a blob-triggered function loaded, a minute or two after the publish.
host="$(az functionapp show --resource-group "$rg" --name "$app" --query defaultHostName -o tsv)"
key=""
for _ in $(seq 1 30); do
	key="$(az functionapp keys list --resource-group "$rg" --name "$app" --query systemKeys.blobs_extension -o tsv 2>/dev/null || true)"
	if [ -n "$key" ] && [ "$key" != None ]; then
		break
	fi
	key=""
	sleep 10
done
[ -n "$key" ] || die "$app has no blobs_extension system key after 5 minutes: check that the host starts (az webapp log tail, or Application Insights), then run deploy.sh again"

# subscribe NAME Host.Functions.FUNCTION SUBJECT_PREFIX SUBJECT_SUFFIX delivers the lake
# account's BlobCreated events whose subject matches to the function's blob trigger. The
# handler checks the blob name again. Event Grid stores the key and masks it when read back.
subscribe() {
	echo "event subscription $1 -> $2"
	az eventgrid system-topic event-subscription create \
		--name "$1" --resource-group "$rg" --system-topic-name "$topic" \
		--endpoint-type webhook \
		--endpoint "https://$host/runtime/webhooks/blobs?functionName=$2&code=$key" \
		--included-event-types Microsoft.Storage.BlobCreated \
		--subject-begins-with "$3" --subject-ends-with "$4" \
		--max-delivery-attempts 30 --event-ttl 1440 \
		--only-show-errors --output none
}
subscribe optimize-snapshot-manifests Host.Functions.optimize \
	"/blobServices/default/containers/$lake_container/blobs/snapshots/" "_manifest.json"
subscribe ingest-cost-export-manifests Host.Functions.ingest \
	"/blobServices/default/containers/$exports_container/blobs/" "manifest.json"

echo
echo "cloudtrim is deployed: resource group $rg, function app $app"
echo "approval webhook: $approve_url (requests must be signed with the webhook secret)"
case "$apply" in
true | True) echo "apply is ON: approved actions change opted-in resources" ;;
*) echo "dry run: the actuator records what it would do and changes nothing (set apply to true and deploy again to change that)" ;;
esac
