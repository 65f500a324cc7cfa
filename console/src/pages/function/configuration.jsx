// The Configuration tab of a function's page. Props: { fn, refresh } (fn is GetFunction's answer).
// Each section loads and saves on its own, with its own error banner.
import GeneralSection from "./configuration/general.jsx";
import EnvironmentSection from "./configuration/environment.jsx";
import { ProvisionedSection, ReservedSection } from "./configuration/concurrency.jsx";
import AsyncSection from "./configuration/async.jsx";
import LayersSection from "./configuration/layers.jsx";
import UrlSection from "./configuration/url.jsx";
import PermissionsSection from "./configuration/permissions.jsx";

const SECTIONS = [
  ["general", "General"], ["environment", "Environment"], ["reserved", "Reserved concurrency"],
  ["provisioned", "Provisioned concurrency"], ["async", "Asynchronous invocation"],
  ["layers", "Layers"], ["url", "Function URL"], ["permissions", "Permissions"],
];

export default function ConfigurationTab({ fn, refresh }) {
  return (
    <div class="panels-layout">
      <nav class="panels-nav" aria-label="Configuration sections">
        <ul>{SECTIONS.map(([id, label]) => <li key={id}><a href={`#${id}`}>{label}</a></li>)}</ul>
      </nav>
      <div class="panels">
        <GeneralSection fn={fn} refresh={refresh} />
        <EnvironmentSection fn={fn} refresh={refresh} />
        <ReservedSection fn={fn} refresh={refresh} />
        <ProvisionedSection fn={fn} />
        <AsyncSection fn={fn} />
        <LayersSection fn={fn} refresh={refresh} />
        <UrlSection fn={fn} />
        <PermissionsSection fn={fn} />
      </div>
    </div>
  );
}
